"""The invoice PDF read back: the page shows the document's numbers, and the bytes are stable."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from invoices.pdf import (
    TEMPLATE_VERSION,
    HoursSummary,
    InvoiceLine,
    PdfDocument,
    UnsupportedTemplateVersion,
    render_pdf,
)
from invoices.pdf.chart import format_hours
from ledger.money import format_amount
from tests.invoices.pdf.factories import make_customer, make_document, make_statement, printed

REPO_ROOT = Path(__file__).resolve().parents[3]
MM = 72 / 25.4


def require_binary(name: str) -> str:
    """The PDF checks need poppler and qpdf; a missing tool is a broken setup, not a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: run `apt-get install -y qpdf poppler-utils` "
            "(the project's test script installs them)",
            pytrace=False,
        )
    return path


def page_texts(pdf: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [page.extract_text() or "" for page in document.pages]


def bill_to_lines(pdf: bytes) -> list[str]:
    """Text lines of the left column of page 1, where the customer block sits."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        page = document.pages[0]
        left_column = page.crop((0, 0, 115 * MM, page.height * 0.4))
        return (left_column.extract_text() or "").splitlines()


def eur(amount_minor: int) -> str:
    return printed(format_amount(amount_minor, "EUR"), "EUR")


# --- what the page says --------------------------------------------------------------------------


def test_first_page_shows_the_documents_numbers() -> None:
    doc = make_document()
    first = page_texts(render_pdf(doc))[0]

    assert "Invoice" in first
    assert "Invoice number 2026-000123" in first
    assert "Issue date 2026-02-01" in first
    assert "Due date 2026-03-03" in first
    assert "Period 2026-01" in first
    for line in doc.lines:
        assert line.description in first
        assert eur(line.amount_minor) in first
    assert "€2,000.00" in first and "-€200.00" in first and "€220.00" in first
    assert f"Subtotal {eur(doc.subtotal_minor)}" in first
    assert f"Tax (19 %) {eur(doc.tax_minor)}" in first
    assert f"Total {eur(doc.total_minor)}" in first
    assert doc.total_minor == 240380  # 2020.00 + 19 % rounded half-up once
    assert "Total €2,403.80" in first


def test_first_page_shows_the_hours_summary_in_hmm_and_minutes() -> None:
    hours = HoursSummary(
        granted_minutes=2400,
        used_minutes=1815,
        expired_minutes=0,
        overage_minutes=0,
        remaining_minutes=585,
        pool="2026-02 + 2026-03, expires 2026-03-31 24:00 Europe/Berlin",
    )
    first = page_texts(render_pdf(make_document(hours=hours)))[0]

    assert "Hours for 2026-01" in first
    for label, minutes in [
        ("Granted", 2400),
        ("Used", 1815),
        ("Expired", 0),
        ("Overage", 0),
        ("Remaining", 585),
    ]:
        assert re.search(rf"^{label} {format_hours(minutes)} {minutes}\b", first, re.M), label
    assert "40:00" in first and "30:15" in first and "9:45" in first
    assert "Pool: 2026-02 + 2026-03, expires 2026-03-31 24:00 Europe/Berlin" in first


def test_first_page_shows_sla_and_payment_instructions() -> None:
    first = page_texts(render_pdf(make_document()))[0]

    assert "Service levels for 2026-01" in first
    assert "platform 99.9954 % €0.00" in first
    assert "S2 3 2 1" in first
    assert "Please transfer the total by the due date, quoting the invoice number." in first
    assert "IBAN DE89 3704 0044 0532 0130 00" in first


def test_hours_formatting() -> None:
    assert format_hours(0) == "0:00"
    assert format_hours(465) == "7:45"
    assert format_hours(1320) == "22:00"
    assert format_hours(-75) == "-1:15"


def test_statement_lists_every_entry_after_the_summary() -> None:
    doc = make_document()
    pages = page_texts(render_pdf(doc))

    assert len(pages) == 2
    statement = pages[1]
    assert "Hours statement for 2026-01" in statement
    for entry in doc.statement:
        row = f"{entry.worked_on.isoformat()} {entry.ticket_ref} {entry.level} {entry.minutes}"
        assert row in statement
    # the "covered by" cell wraps; its words are all there, in order
    assert "allotment 2026-01 (180 min), overage (120 min)" in " ".join(statement.split())
    assert "Total 1320" in statement
    assert "3 work entries, 1320 minutes (22:00 h)" in statement


def test_600_entry_statement_flows_over_numbered_pages() -> None:
    doc = make_document(statement=make_statement(600))
    pages = page_texts(render_pdf(doc))

    page_count = len(pages)
    assert page_count >= 5
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {page_count}" in text
        if number > 1:
            assert text.count("Date Ticket Level Minutes Description Covered by") == 1
    statement_text = "\n".join(pages[1:])
    found = set(re.findall(r"\bHD-\d+\b", statement_text))
    assert found == {entry.ticket_ref for entry in doc.statement}
    assert f"Total {sum(entry.minutes for entry in doc.statement)}" in pages[-1]
    assert "(counted \N{MULTIPLICATION SIGN}1.5)" in statement_text


def test_many_lines_flow_onto_the_next_page_with_the_totals() -> None:
    lines = tuple(
        InvoiceLine(
            kind="late_work",
            description=f"Late work for 2025-{month:02d}, ticket HD-{month}",
            quantity="0:15 h",
            unit_price_minor=11000,
            amount_minor=2750 + month,
        )
        for month in range(1, 61)
    )
    doc = make_document(lines=lines)
    pages = page_texts(render_pdf(doc))
    text = "\n".join(pages)

    assert f"Page 1 of {len(pages)}" in pages[0]
    for line in lines:
        assert f"{line.description} {line.quantity} €110.00 {eur(line.amount_minor)}" in text
    assert f"Total {eur(doc.total_minor)}" in pages[1]
    assert pages[1].count("Description Quantity Unit price Amount") == 1


def test_a_document_without_hours_has_no_statement_part() -> None:
    pages = page_texts(render_pdf(make_document(hours=None, statement=(), sla=None)))

    assert len(pages) == 1
    assert "Hours statement" not in pages[0]
    assert "Service levels" not in pages[0]
    assert "Page 1 of 1" in pages[0]


# --- Latin names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["São Paulo Comércio Ltda", "Müller & Söhne GmbH", "Łódź Sp. z o.o."]
)
def test_latin_names_round_trip(name: str) -> None:
    customer = make_customer(name=name, address_lines=(f"{name} Tower", "ul. Piotrkowska 1"))
    pdf = render_pdf(make_document(customer=customer))

    lines = bill_to_lines(pdf)
    assert name in lines
    assert f"{name} Tower" in lines
    assert name in page_texts(pdf)[1]  # the statement's heading names the customer too


LATIN_LETTERS = st.characters(
    min_codepoint=0x41, max_codepoint=0x24F, categories=["Lu", "Ll", "Lt"]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(st.text(LATIN_LETTERS, min_size=1, max_size=8), min_size=1, max_size=3))
def test_any_latin_name_round_trips(words: list[str]) -> None:
    name = " ".join(words)
    pdf = render_pdf(make_document(customer=make_customer(name=name), statement=(), hours=None))

    assert name in bill_to_lines(pdf)


def test_every_font_is_an_embedded_dejavu_subset() -> None:
    """A viewer without DejaVu must show the same glyphs: nothing is left to substitution."""
    reader = PdfReader(io.BytesIO(render_pdf(make_document())))
    base_fonts = set()
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for reference in resources["/Font"].values():
            font = reference.get_object()
            base_fonts.add(str(font["/BaseFont"]))
            assert font["/Subtype"] == "/TrueType"
            assert "/FontFile2" in font["/FontDescriptor"].get_object()
    assert base_fonts == {"/AAAAAA+DejaVuSans", "/AAAAAA+DejaVuSans-Bold"}


# --- kinds of document ---------------------------------------------------------------------------


def test_reverse_charge_prints_the_note_and_no_tax() -> None:
    doc = make_document(
        reverse_charge=True,
        customer=make_customer(name="Łódź Sp. z o.o.", country="Poland", tax_id="PL5260250995"),
    )
    first = page_texts(render_pdf(doc))[0]

    assert doc.tax_minor == 0
    assert doc.total_minor == doc.subtotal_minor
    assert (
        "Reverse charge: VAT to be accounted for by the recipient "
        "(Art. 196 Directive 2006/112/EC)." in first
    )
    assert "Tax" not in first
    assert f"Subtotal {eur(doc.subtotal_minor)}" in first
    assert f"Total {eur(doc.total_minor)}" in first
    assert "VAT ID PL5260250995" in first


def test_credit_note_references_the_invoice_and_prints_amounts_as_given() -> None:
    lines = (
        InvoiceLine(
            kind="adjustment",
            description="Credit for invoice 2026-000123",
            quantity="1",
            unit_price_minor=-202000,
            amount_minor=-202000,
        ),
    )
    doc = make_document(
        kind="credit_note",
        number="CN-2026-000007",
        issue_date=date(2026, 2, 10),
        due_date=None,
        credited_invoice_number="2026-000123",
        lines=lines,
        tax_rate_percent=Decimal("19.00"),
        hours=None,
        sla=None,
        statement=(),
        payment_instructions=("The amount will be refunded to the original payment method.",),
    )
    pdf = render_pdf(doc)
    first = page_texts(pdf)[0]

    assert "Credit note" in first
    assert "Credit note number CN-2026-000007" in first
    assert "Credits invoice 2026-000123" in first
    assert "Issue date 2026-02-10" in first
    assert "Due date" not in first
    assert "-€2,020.00" in first
    assert f"Tax (19 %) {eur(doc.tax_minor)}" in first
    assert doc.tax_minor == -38380
    assert "Total -€2,403.80" in first
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    assert metadata.title == "Credit note CN-2026-000007"


def test_zero_decimal_currency() -> None:
    lines = (
        InvoiceLine(
            kind="fee",
            description="Support plan",
            quantity="1",
            unit_price_minor=250000,
            amount_minor=250000,
        ),
    )
    doc = make_document(currency="JPY", lines=lines, tax_rate_percent=Decimal("10"))
    first = page_texts(render_pdf(doc))[0]

    assert "Total ¥275,000" in first
    assert "Currency JPY" in first


# --- the file itself -----------------------------------------------------------------------------


def test_metadata_is_the_documents() -> None:
    meta = PdfReader(io.BytesIO(render_pdf(make_document()))).metadata

    assert meta is not None
    assert meta.title == "Invoice 2026-000123"
    assert meta.author == "Hourglass Support GmbH"
    assert meta.creator == f"Hourglass invoice template {TEMPLATE_VERSION}"
    assert meta["/CreationDate"] == "D:20260201000000+00'00'"


def test_qpdf_check_passes(tmp_path: Path) -> None:
    qpdf = require_binary("qpdf")
    for name, doc in [
        ("invoice", make_document()),
        ("long", make_document(statement=make_statement(120))),
    ]:
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(render_pdf(doc))
        result = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No syntax or stream encoding errors" in result.stdout


def test_first_page_renders_to_a_png(tmp_path: Path) -> None:
    pdftoppm = require_binary("pdftoppm")
    pdf_path = tmp_path / "invoice.pdf"
    pdf_path.write_bytes(render_pdf(make_document()))

    subprocess.run(
        [pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "p")],
        check=True,
    )
    [png] = list(tmp_path.glob("p-*.png"))
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000
    from PIL import Image  # Pillow comes with ReportLab

    with Image.open(png) as image:
        assert image.size in {(413, 585), (414, 585)}  # A4 at 50 dpi, rounding aside
        grey = image.convert("L")
        dark = sum(grey.histogram()[:128])
        assert 0.01 < dark / (image.size[0] * image.size[1]) < 0.3  # ink, but not a black page


# --- determinism ---------------------------------------------------------------------------------

_RENDER_IN_CHILD = """
import sys
from tests.invoices.pdf.factories import make_document, make_statement
from invoices.pdf import render_pdf
sys.stdout.buffer.write(render_pdf(make_document(statement=make_statement(60))))
"""


def test_rendering_is_deterministic_across_calls_and_processes() -> None:
    doc = make_document(statement=make_statement(60))
    first = render_pdf(doc)
    second = render_pdf(doc)
    assert first == second

    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": "1234567890",
        "TZ": "Pacific/Auckland",
        "PYTHONHASHSEED": "4242",
    }
    child = subprocess.run(
        [sys.executable, "-c", _RENDER_IN_CHILD],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    assert child.stdout == first


def test_a_different_document_gives_different_bytes() -> None:
    doc = make_document()
    assert render_pdf(doc) != render_pdf(replace(doc, number="2026-000124"))


# --- refusals ------------------------------------------------------------------------------------


def test_another_template_version_is_refused() -> None:
    with pytest.raises(UnsupportedTemplateVersion):
        render_pdf(make_document(template_version="0"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subtotal_minor": 1}, "subtotal_minor"),
        ({"total_minor": 1}, "total_minor"),
        ({"kind": "credit_note", "due_date": None}, "credit note"),
        ({"due_date": None}, "due date"),
        ({"period": "2026-13"}, "YYYY-MM"),
        ({"reverse_charge": True, "tax_minor": 100, "total_minor": 202100}, "reverse-charge"),
    ],
)
def test_inconsistent_documents_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_document(**overrides)


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError):
        make_document(currency="XXX")


def test_documents_are_frozen() -> None:
    doc: PdfDocument = make_document()
    with pytest.raises(AttributeError):
        doc.number = "other"  # type: ignore[misc]
