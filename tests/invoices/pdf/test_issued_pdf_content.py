"""An issued invoice's PDF, read back, says what the API says about the same invoice.

Three customers with Latin names, each billed by the month-end run through the API: a German
customer taxed at 19 % with an outage in April, a Polish reverse-charge customer with overage and
late work from March, and a Brazilian customer in BRL whose March and April are pooled and who
has after-hours work. The PDF is compared with `GET /v1/invoices/{id}`, the contract's statement
and availability, never with the renderer's own input.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.auth.tokens import Role
from app.billing import issuer_details
from app.db import make_engine, session_factory
from app.main import create_app
from app.settings import Settings
from invoices.runs import flows
from ledger.base import unit_of_work
from ledger.periods import parse_month
from tests.factories import bearer, billing_run, customer_payload, plan_payload
from tests.invoices.pdf.factories import printed

MULLER = "Müller & Söhne GmbH"
LODZ = "Łódź Sp. z o.o."
SAO_PAULO = "São Paulo Comércio Ltda"
STATEMENT_HEADER = "Date Ticket Level Minutes Description Covered by"
ROW_START = re.compile(r"^\d{4}-\d{2}-\d{2} ")
FOOTER = re.compile(r" Page \d+ of \d+$")


# --- building the story through the API ---------------------------------------------------------


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _batch(
    client: TestClient, finance: dict[str, str], contract_id: int, entries: list[dict[str, Any]]
) -> None:
    body = {"entries": [{"contract_id": contract_id, **entry} for entry in entries]}
    _created(client.post("/v1/work-entries/batch", json=body, headers=finance))


def _work(
    day: str, minutes: int, level: int, ticket: str, text: str, **extra: Any
) -> dict[str, Any]:
    return {
        "worked_on": day,
        "minutes": minutes,
        "level": level,
        "ticket_ref": ticket,
        "description": text,
        **extra,
    }


Bill = Callable[[str], None]
"""Runs the month-end billing for a period ("2026-03")."""


def api_billing(client: TestClient, finance: dict[str, str]) -> Bill:
    def bill(period: str) -> None:
        run = billing_run(client, finance, period)
        assert run["status"] == "completed" and not run["failures"], run

    return bill


@dataclass(frozen=True)
class Story:
    customer_name: str
    customer_id: int
    contract_id: int


def _contract(
    client: TestClient,
    finance: dict[str, str],
    *,
    plan: dict[str, Any],
    customer: dict[str, Any],
    start_date: str,
) -> Story:
    plan_code = _created(client.post("/v1/plans", json=plan_payload(**plan), headers=finance))[
        "code"
    ]
    made = _created(
        client.post("/v1/customers", json=customer_payload(**customer), headers=finance)
    )
    contract = _created(
        client.post(
            "/v1/contracts",
            json={
                "customer_id": made["id"],
                "plan_code": plan_code,
                "start_date": start_date,
                "committed_months": 12,
            },
            headers=finance,
        )
    )
    return Story(customer["name"], int(made["id"]), int(contract["id"]))


def muller_story(client: TestClient, finance: dict[str, str], bill: Bill) -> Story:
    """SPEC example 3: 15 h used, 5 h expire, a 300-minute outage → 99.3056 % and −180.00."""
    story = _contract(
        client,
        finance,
        plan={},
        customer={
            "name": MULLER,
            "country": "DE",
            "tax_rate_percent": "19",
            "address": ["Königsallee 7", "40212 Düsseldorf"],
            "tax_id": "DE987654321",
        },
        start_date="2026-01-01",
    )
    _batch(
        client,
        finance,
        story.contract_id,
        [
            _work("2026-04-01", 240, 1, "MS-101", "Checkout outage follow-up"),
            _work("2026-04-08", 290, 2, "MS-102", "Failover analysis"),
            _work("2026-04-15", 180, 3, "MS-103", "Upgrade planning"),
            _work("2026-04-22", 180, 4, "MS-104", "Kernel patch review"),
        ],
    )
    _created(
        client.post(
            "/v1/incidents",
            json={
                "components": ["platform"],
                "started_at": "2026-04-08T10:00:00+02:00",
                "ended_at": "2026-04-08T15:00:00+02:00",
                "scheduled": False,
                "description": "database failover",
            },
            headers=finance,
        )
    )
    bill("2026-03")
    bill("2026-04")
    return story


def lodz_story(client: TestClient, finance: dict[str, str], bill: Bill) -> Story:
    """Reverse charge; 25 h in April (5 h overage) and 45 minutes of March work posted late."""
    story = _contract(
        client,
        finance,
        plan={},
        customer={
            "name": LODZ,
            "country": "PL",
            "timezone": "Europe/Warsaw",
            "holiday_region": "PL",
            "reverse_charge": True,
            "address": ["ul. Piotrkowska 1", "90-001 Łódź"],
            "tax_id": "PL5260250995",
        },
        start_date="2026-01-01",
    )
    _batch(
        client,
        finance,
        story.contract_id,
        [
            _work("2026-03-10", 120, 2, "LD-201", "Backup restore drill"),
            _work("2026-04-02", 600, 1, "LD-210", "Incident bridge"),
            _work("2026-04-09", 600, 2, "LD-211", "Root cause analysis"),
            _work("2026-04-16", 300, 3, "LD-212", "Capacity review"),
        ],
    )
    bill("2026-03")
    _batch(
        client,
        finance,
        story.contract_id,
        [_work("2026-03-27", 45, 2, "LD-209", "Weekend fix, reported late", late=True)],
    )
    bill("2026-04")
    return story


def sao_paulo_story(client: TestClient, finance: dict[str, str], bill: Bill) -> Story:
    """BRL; March and April pooled (40 h), 43 h used in all, after-hours S1 work at ×1.5."""
    story = _contract(
        client,
        finance,
        plan={
            "currency": "BRL",
            "fee": "5000.00",
            "overage_rate": "250.00",
            "after_hours_multiplier": "1.5",
            "after_hours_levels": [1],
        },
        customer={
            "name": SAO_PAULO,
            "country": "BR",
            "timezone": "America/Sao_Paulo",
            "holiday_region": "BR",
            "address": ["Avenida Paulista 1578", "01310-200 São Paulo SP"],
        },
        start_date="2026-03-01",
    )
    _created(
        client.post(
            f"/v1/contracts/{story.contract_id}/pools",
            json={"first_month": "2026-03"},
            headers=finance,
        )
    )
    _batch(
        client,
        finance,
        story.contract_id,
        [
            _work("2026-03-05", 600, 2, "SP-301", "Payment gateway migration"),
            _work(
                "2026-04-04",
                120,
                1,
                "SP-302",
                "Saturday night outage",
                started_at="2026-04-04T23:00:00-03:00",
            ),
            _work("2026-04-13", 900, 2, "SP-303", "Tax rules update"),
            _work("2026-04-20", 900, 3, "SP-304", "Reporting rebuild"),
        ],
    )
    bill("2026-03")
    bill("2026-04")
    return story


Stories = Callable[[TestClient, dict[str, str], Bill], Story]
STORIES: dict[str, Stories] = {MULLER: muller_story, LODZ: lodz_story, SAO_PAULO: sao_paulo_story}


# --- reading it back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    story: Story
    customer: dict[str, Any]
    invoice: dict[str, Any]
    statement: dict[str, Any]
    late_entries: list[dict[str, Any]]
    availability: dict[str, Any]
    pdf: bytes


def april_invoice(client: TestClient, finance: dict[str, str], story: Story) -> Issued:
    listed = client.get(
        f"/v1/invoices?contract_id={story.contract_id}&period=2026-04", headers=finance
    ).json()["items"]
    assert len(listed) == 1, listed
    invoice = client.get(f"/v1/invoices/{listed[0]['id']}", headers=finance).json()
    contract = f"/v1/contracts/{story.contract_id}"
    statement = client.get(f"{contract}/statement?month=2026-04", headers=finance).json()
    march = client.get(f"{contract}/statement?month=2026-03", headers=finance).json()
    availability = client.get(f"{contract}/availability?month=2026-04", headers=finance).json()
    pdf = client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance)
    assert pdf.status_code == 200, pdf.text
    customer = client.get(f"/v1/customers/{story.customer_id}", headers=finance).json()
    return Issued(
        story=story,
        customer=customer,
        invoice=invoice,
        statement=statement,
        late_entries=[entry for entry in march.get("entries", []) if entry["late"]],
        availability=availability,
        pdf=pdf.content,
    )


def page_texts(pdf: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [page.extract_text() or "" for page in document.pages]


def bill_to_lines(pdf: bytes) -> list[str]:
    """Text lines of the left column of page 1 below the issuer: the customer block."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        page = document.pages[0]
        words = page.extract_words()
        label = next(w for w in words if w["text"] == "BILL")
        facts = next(w for w in words if w["text"] == "Issue")  # "Issue date", on the right
        lines = next(w for w in words if w["text"] == "Description")
        column = page.crop((0, label["top"], facts["x0"] - 1, lines["top"] - 1))
        return (column.extract_text() or "").splitlines()


def line_descriptions(pdf: bytes) -> str:
    """The description column of the lines table on page 1, wrapped lines joined by spaces.

    Quantity and amounts sit to the right of the "Quantity" heading; cropping there keeps a
    wrapped description in one piece."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        page = document.pages[0]
        words = page.extract_words()
        header = next(w for w in words if w["text"] == "Description")
        quantity = next(w for w in words if w["text"] == "Quantity")
        subtotal = next(w for w in words if w["text"] == "Subtotal")
        column = page.crop((0, header["bottom"], quantity["x0"], subtotal["top"]))
        return " ".join((column.extract_text() or "").split())


def statement_rows(pages: list[str]) -> dict[str, list[str]]:
    """Statement rows by ticket ref, a row's wrapped lines joined by spaces.

    Descriptions here fit their column; only "Covered by" wraps, onto the lines that follow."""
    rows: dict[str, list[str]] = {}
    for text in pages[1:]:
        ticket: str | None = None
        for line in text.splitlines():
            if ROW_START.match(line):
                ticket = line.split()[1]
                rows.setdefault(ticket, []).append(line)
            elif line.startswith("Total ") or FOOTER.search(line) or line == STATEMENT_HEADER:
                ticket = None
            elif ticket is not None:
                rows[ticket][-1] += " " + line
    return rows


def hmm(minutes: int) -> str:
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def covered_by(entry: dict[str, Any]) -> str:
    labels = {"overage": "overage", "on_demand": "on-demand", "late": "late work"}
    parts = []
    for cover in entry["coverage"]:
        if cover["source"] == "allotment":
            parts.append(f"allotment {'/'.join(cover['months'])} {cover['minutes']} min")
        else:
            parts.append(f"{labels[cover['source']]} {cover['minutes']} min")
    return ", ".join(parts)


@pytest.fixture(params=list(STORIES))
def issued(request: pytest.FixtureRequest, client: TestClient, finance: dict[str, str]) -> Issued:
    story = STORIES[request.param](client, finance, api_billing(client, finance))
    return april_invoice(client, finance, story)


# --- what the page says -------------------------------------------------------------------------


def test_first_page_names_the_invoice_and_the_customer(issued: Issued) -> None:
    invoice = issued.invoice
    first = page_texts(issued.pdf)[0]

    assert invoice["status"] == "issued" and invoice["number"]
    assert f"Invoice number {invoice['number']}" in first
    assert f"Issue date {invoice['issue_date']}" in first
    assert f"Due date {invoice['due_date']}" in first
    assert f"Period {invoice['period']}" in first
    assert f"Currency {invoice['currency']}" in first
    customer = issued.customer
    assert customer["name"] == issued.story.customer_name
    tax_id = [f"VAT ID {customer['tax_id']}"] if customer["tax_id"] else []
    assert bill_to_lines(issued.pdf) == [
        "BILL TO",
        customer["name"],
        *customer["address"],
        customer["country"],
        *tax_id,
        customer["email"],
    ]


def test_lines_and_totals_are_the_invoices(issued: Issued) -> None:
    invoice = issued.invoice
    currency = invoice["currency"]
    first = page_texts(issued.pdf)[0]
    lines = first.splitlines()
    descriptions = line_descriptions(issued.pdf)

    assert invoice["lines"], invoice
    position = 0
    for line in invoice["lines"]:
        found = descriptions.find(line["description"], position)
        assert found >= 0, (line["description"], descriptions)
        position = found + len(line["description"])
        cells = [line["quantity"], printed(line["amount"], currency)]
        if line["unit_price"] is not None:
            cells.insert(1, printed(line["unit_price"], currency))
        assert any(text.endswith(" " + " ".join(cells)) for text in lines), (cells, first)
    assert f"Subtotal {printed(invoice['subtotal'], currency)}" in lines
    assert f"Total {printed(invoice['total'], currency)}" in lines
    if invoice["reverse_charge"]:
        assert invoice["note"] and invoice["note"] in first
        assert invoice["tax"] == "0.00"
        assert not any(text.startswith("Tax") for text in lines)
    else:
        assert f"Tax ({invoice['tax_rate_percent']} %) {printed(invoice['tax'], currency)}" in lines
        assert "Reverse charge" not in first


def test_expected_money_for_each_story(issued: Issued) -> None:
    """The stories' figures, worked out by hand, so the comparisons above compare something."""
    invoice = issued.invoice
    kinds = [(line["kind"], line["amount"]) for line in invoice["lines"]]
    name = issued.story.customer_name
    if name == MULLER:
        assert kinds == [("fee", "2000.00"), ("discount", "-200.00"), ("service_credit", "-180.00")]
        assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (
            "1620.00",
            "307.80",
            "1927.80",
        )
    elif name == LODZ:
        assert kinds == [
            ("fee", "2000.00"),
            ("discount", "-200.00"),
            ("overage", "550.00"),
            ("late_work", "82.50"),
        ]
        assert invoice["reverse_charge"] is True and invoice["total"] == "2432.50"
    else:
        assert kinds == [("fee", "5000.00"), ("discount", "-500.00"), ("overage", "750.00")]
        assert invoice["currency"] == "BRL" and invoice["total"] == "5250.00"


def test_hours_summary_is_the_statements(issued: Issued) -> None:
    statement = issued.statement
    first = page_texts(issued.pdf)[0]

    assert "Hours for 2026-04" in first
    for label in ("granted", "used", "expired", "overage", "remaining"):
        minutes = statement[f"{label}_minutes"]
        row = rf"^{label.capitalize()} {re.escape(hmm(minutes))} {minutes}\b"
        assert re.search(row, first, re.M), (label, minutes, first)
    figures = {k: statement[f"{k}_minutes"] for k in ("granted", "used", "expired", "overage")}
    name = issued.story.customer_name
    if name == MULLER:
        assert figures == {"granted": 1200, "used": 900, "expired": 300, "overage": 0}
    elif name == LODZ:
        assert figures == {"granted": 1200, "used": 1200, "expired": 0, "overage": 300}
    else:
        assert statement["pooled"] is True
        assert figures == {"granted": 2400, "used": 2400, "expired": 0, "overage": 180}
        assert "Pool: 2026-03 + 2026-04, expires 2026-04-30 24:00 America/Sao_Paulo" in first
    if name != SAO_PAULO:
        assert "Pool:" not in first


def test_sla_summary_shows_the_months_availability(issued: Issued) -> None:
    first = page_texts(issued.pdf)[0]
    currency = issued.invoice["currency"]

    assert "Service levels for 2026-04" in first
    components = issued.availability["components"]
    assert [c["name"] for c in components] == ["platform"]
    for component in components:
        row = f"{component['name']} {component['availability_percent']} % "
        assert row in first, (row, first)
        assert f"{row}{printed(component['credit_amount'], currency)}" in first
    if issued.story.customer_name == MULLER:
        assert "platform 99.3056 % €180.00" in first
    else:
        assert components[0]["availability_percent"] == "100.0000"
    for severity in ("S1", "S2", "S3", "S4"):
        assert f"{severity} 0 0 0" in first


def test_payment_instructions_are_printed(issued: Issued, settings: Settings) -> None:
    first = page_texts(issued.pdf)[0]

    assert "Payment" in first.splitlines()
    for line in settings.issuer.payment_instructions:
        assert line in first


def test_statement_lists_every_work_entry_and_what_covered_it(issued: Issued) -> None:
    pages = page_texts(issued.pdf)
    rows = statement_rows(pages)
    entries = issued.late_entries + issued.statement["entries"]

    assert "Hours statement for 2026-04" in pages[1]
    assert len(entries) == sum(len(found) for found in rows.values())
    for entry in entries:
        description = entry["description"]
        if entry["multiplier"] != "1":
            description += f" (counted ×{entry['multiplier']})"
        expected = (
            f"{entry['worked_on']} {entry['ticket_ref']} {entry['level']} "
            f"{entry['billable_minutes']} {description} {covered_by(entry)}"
        )
        assert rows[entry["ticket_ref"]] == [expected]
    total = sum(entry["billable_minutes"] for entry in entries)
    assert f"Total {total}" in pages[-1].splitlines()
    count = f"{len(entries)} work entries, {total} minutes ({hmm(total)} h)"
    assert (
        f"{issued.story.customer_name} · Invoice {issued.invoice['number']} · {count}" in (pages[1])
    )


def test_statement_coverage_of_each_story(issued: Issued) -> None:
    """What covered what, spelled out: the allotment, the pool's two months, overage, late."""
    rows = {ticket: found[0] for ticket, found in statement_rows(page_texts(issued.pdf)).items()}
    name = issued.story.customer_name
    if name == MULLER:
        assert (
            rows["MS-102"] == "2026-04-08 MS-102 2 300 Failover analysis allotment 2026-04 300 min"
        )
    elif name == LODZ:
        assert rows["LD-209"] == (
            "2026-03-27 LD-209 2 45 Weekend fix, reported late late work 45 min"
        )
        assert rows["LD-212"] == "2026-04-16 LD-212 3 300 Capacity review overage 300 min"
        assert "LD-201" not in rows  # March's own work was on March's invoice
    else:
        assert rows["SP-302"] == (
            "2026-04-04 SP-302 1 180 Saturday night outage (counted ×1.5) allotment 2026-03 180 min"
        )
        assert rows["SP-303"].endswith("allotment 2026-03 420 min, allotment 2026-04 480 min")
        assert rows["SP-304"].endswith("allotment 2026-04 720 min, overage 180 min")
        assert "SP-301" not in rows


# --- the file itself ----------------------------------------------------------------------------


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed (apt-get install -y qpdf poppler-utils)")
    return path


def test_qpdf_check_passes_and_page_one_renders(
    client: TestClient, finance: dict[str, str], tmp_path: Path
) -> None:
    story = muller_story(client, finance, api_billing(client, finance))
    issued = april_invoice(client, finance, story)
    pdf_path = tmp_path / "invoice.pdf"
    pdf_path.write_bytes(issued.pdf)

    check = subprocess.run(
        [require_binary("qpdf"), "--check", str(pdf_path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout

    subprocess.run(
        [require_binary("pdftoppm"), "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_path), "p"],
        cwd=tmp_path,
        check=True,
    )
    [png] = list(tmp_path.glob("p-*.png"))
    from PIL import Image

    with Image.open(png) as image:
        width, height = image.size
        assert abs(width - 496) <= 1 and abs(height - 702) <= 1  # A4 at 60 dpi
        grey = image.convert("L")
        dark = sum(grey.histogram()[:128]) / (image.size[0] * image.size[1])
        assert 0.01 < dark < 0.3  # ink, but not a black page


# --- the same invoice, the same bytes -----------------------------------------------------------

BILLED_AT = {
    "2026-03": datetime(2026, 4, 1, 6, 0, tzinfo=UTC),
    "2026-04": datetime(2026, 5, 1, 6, 0, tzinfo=UTC),
}


@pytest.fixture
def two_databases(database_factory: Any) -> Iterator[tuple[str, str]]:
    urls = (database_factory.create(), database_factory.create())
    yield urls
    for url in urls:
        database_factory.drop(url)


def _load_and_bill(url: str) -> dict[str, bytes]:
    """The three stories through the API, each period billed at a fixed instant; PDFs by number."""
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        factory = session_factory(engine)
        with unit_of_work(factory) as session:
            finance = bearer(session, Role.FINANCE)
        settings = Settings(database_url=url)

        def bill(period: str) -> None:
            now = BILLED_AT[period]
            biller = flows.Biller(
                factory=factory, issuer=issuer_details(settings), clock=lambda: now
            )
            run_id = flows.start_run(factory, parse_month(period), now=now)
            summary = flows.work_run(biller, run_id)
            assert summary["status"] == "completed" and not summary["failures"], summary

        with TestClient(create_app(settings, engine=engine)) as client:
            for story in STORIES.values():
                story(client, finance, bill)
            listed = client.get("/v1/invoices?limit=100", headers=finance).json()["items"]
            pdfs = {}
            for invoice in listed:
                response = client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance)
                assert response.status_code == 200
                pdfs[invoice["number"]] = response.content
        assert len(pdfs) == len(listed) == 10  # Jan to Apr twice, then Mar and Apr
        return pdfs
    finally:
        engine.dispose()


def test_two_identical_databases_issue_byte_identical_pdfs(two_databases: tuple[str, str]) -> None:
    first, second = (_load_and_bill(url) for url in two_databases)

    assert first.keys() == second.keys()
    for number, pdf in first.items():
        assert pdf == second[number], number
    issue_dates = {page_texts(pdf)[0].split("Issue date ")[1][:10] for pdf in first.values()}
    assert issue_dates == {"2026-04-01", "2026-05-01"}
