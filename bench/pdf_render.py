"""How fast one core renders a typical invoice's documents, against a bare ReportLab lower bound.

"Documents" are what is stored per invoice: the Factur-X PDF/A-3 (the page, its XMP, output
intent and embedded factur-x.xml) and the three XMLs (CII, XRechnung, UBL).

The month-end job renders one PDF per contract, so this number sizes a billing run. The lower bound
draws the very same text, page by page, with `canvas.drawString` in the same embedded font: the gap
between the two is the cost of layout (tables, wrapped text, the chart) and of the XMLs and the
PDF/A-3 parts.

    .venv/bin/python bench/pdf_render.py [--iterations 200] [--json]

With `--json` the last line is `{"render_ms": documents, "bare_ms": bare page}`.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pdfplumber
import reportlab
from reportlab.lib import rl_accel
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from invoices.documents import DocumentData, build_documents
from invoices.einvoice.mapping import Buyer, SourceLine, build_einvoice
from invoices.issuer import IssuerDetails
from invoices.pdf import (
    TEMPLATE_VERSION,
    ComponentAvailability,
    Customer,
    HoursSummary,
    InvoiceLine,
    Issuer,
    PdfDocument,
    SeverityTickets,
    SlaSummary,
    StatementEntry,
    render_pdf,
)
from invoices.pdf.render import FONT, register_fonts

ISSUER = IssuerDetails(
    name="Hourglass Services GmbH",
    address_lines=("Friedrichstraße 1", "10117 Berlin"),
    tax_id="DE136695976",
    email="billing@hourglass.example",
    street="Friedrichstraße 1",
    city="Berlin",
    postal_code="10117",
    country="DE",
    phone="+49 30 0000000",
    contact_name="Billing team",
    iban="DE89370400440532013000",
    bic="COBADEFFXXX",
)


def typical_invoice() -> PdfDocument:
    """Six lines and twenty work entries: an ordinary month for a business-plan customer."""
    lines = (
        InvoiceLine(
            kind="fee",
            description="Business support plan, 2026-03",
            quantity="1",
            unit_price_minor=200000,
            amount_minor=200000,
        ),
        InvoiceLine(
            kind="discount",
            description="Annual commitment discount 10 %",
            quantity="1",
            unit_price_minor=-20000,
            amount_minor=-20000,
        ),
        InvoiceLine(
            kind="overage",
            description="Overage 2026-03: 2:00 h at 110.00 EUR/h",
            quantity="2:00 h",
            unit_price_minor=11000,
            amount_minor=22000,
        ),
        InvoiceLine(
            kind="late_work",
            description="Late work for 2026-02: 0:45 h at 110.00 EUR/h",
            quantity="0:45 h",
            unit_price_minor=11000,
            amount_minor=8250,
        ),
        InvoiceLine(
            kind="service_credit",
            description="Service credit: platform availability 99.3056 % (10 %)",
            quantity="1",
            unit_price_minor=-18000,
            amount_minor=-18000,
        ),
        InvoiceLine(
            kind="adjustment",
            description="Onboarding workshop, agreed 2026-03-02",
            quantity="1",
            unit_price_minor=45000,
            amount_minor=45000,
        ),
    )
    statement = tuple(
        StatementEntry(
            worked_on=date(2026, 3, 2) + timedelta(days=index),
            ticket_ref=f"HD-{4100 + index}",
            level=index % 4 + 1,
            minutes=(30, 45, 60, 90, 120)[index % 5],
            description=f"Ticket follow-up {index}: configuration change and verification",
            covered_by="allotment 2026-02/2026-03 (pool)" if index < 17 else "overage",
        )
        for index in range(20)
    )
    subtotal = sum(line.amount_minor for line in lines)
    tax = 45843  # 19 % of 2372.50, rounded half-up
    return PdfDocument(
        kind="invoice",
        number="2026-000456",
        issue_date=date(2026, 4, 1),
        due_date=date(2026, 5, 1),
        period="2026-03",
        currency="EUR",
        issuer=Issuer(
            name="Hourglass Support GmbH",
            address_lines=("Friedrichstraße 123", "10117 Berlin", "Germany"),
            tax_id="DE123456789",
            email="billing@hourglass.example",
            bank_details=("IBAN DE89 3704 0044 0532 0130 00", "BIC COBADEFFXXX"),
        ),
        customer=Customer(
            name="São Paulo Comércio Ltda",
            address_lines=("Avenida Paulista 1578", "01310-200 São Paulo SP"),
            country="Brazil",
            tax_id="12.345.678/0001-95",
            email="financeiro@spcomercio.example",
        ),
        lines=lines,
        subtotal_minor=subtotal,
        tax_rate_percent=Decimal("19"),
        tax_minor=tax,
        total_minor=subtotal + tax,
        template_version=TEMPLATE_VERSION,
        hours=HoursSummary(
            granted_minutes=2400,
            used_minutes=2400,
            expired_minutes=0,
            overage_minutes=120,
            remaining_minutes=0,
            pool="2026-02 + 2026-03, 40:00 h, expired 2026-03-31 24:00 Europe/Berlin",
        ),
        sla=SlaSummary(
            components=(
                ComponentAvailability(
                    name="platform", availability_percent="99.3056", credit_minor=-18000
                ),
            ),
            tickets=(
                SeverityTickets(severity="S1", tickets=1, met=1, breached=0),
                SeverityTickets(severity="S2", tickets=4, met=3, breached=1),
                SeverityTickets(severity="S3", tickets=9, met=9, breached=0),
            ),
        ),
        payment_instructions=("Please transfer the total by the due date, quoting 2026-000456.",),
        statement=statement,
    )


def typical_documents(document: PdfDocument) -> DocumentData:
    """The same invoice with its e-invoice data, as `invoices.documents` loads it."""
    assert document.due_date is not None
    einvoice = build_einvoice(
        credit_note=False,
        number=document.number,
        issue_date=document.issue_date,
        due_date=document.due_date,
        currency=document.currency,
        period_start=date(2026, 3, 1),
        period_end_exclusive=date(2026, 4, 1),
        issuer=ISSUER,
        buyer=Buyer(
            customer_id=17,
            name=document.customer.name,
            street="Königsallee 7",
            city="Düsseldorf",
            postal_code="40212",
            country="DE",
            vat_id="DE136695976",
            email=document.customer.email,
            buyer_reference="04011000-12345-34",
        ),
        lines=[
            SourceLine(
                kind=line.kind,
                description=line.description,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                amount_minor=line.amount_minor,
            )
            for line in document.lines
        ],
        tax_rate_percent=document.tax_rate_percent,
        tax_minor=document.tax_minor,
        total_minor=document.total_minor,
        reverse_charge=document.reverse_charge,
    )
    return DocumentData(owner="invoice", owner_id=456, pdf=document, einvoice=einvoice)


def text_per_page(pdf: bytes) -> list[list[str]]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [(page.extract_text() or "").splitlines() for page in document.pages]


def bare_pages(pages: list[list[str]]) -> bytes:
    """The lower bound: the invoice's text, line by line, with no layout at all."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    for lines in pages:
        canvas.setFont(FONT, 8.5)
        y = A4[1] - 50
        for line in lines:
            canvas.drawString(50, y, line)
            y -= 11.5
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def measure(label: str, render: Callable[[], object], iterations: int) -> float:
    """Milliseconds per render (the best of three rounds, so other load on the machine counts
    less); prints a line."""
    render()  # warm-up: font parsing, imports
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(iterations):
            render()
        best = min(best, (time.perf_counter() - start) / iterations)
    print(f"{label:<38} {1 / best:8.1f} renders/s {1000 * best:8.2f} ms/render")
    return 1000 * best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="end with a JSON line of figures")
    args = parser.parse_args()

    register_fonts()
    document = typical_invoice()
    pdf = render_pdf(document)
    pages = text_per_page(pdf)
    print(
        f"typical invoice: {len(document.lines)} lines, {len(document.statement)} statement "
        f"entries, {len(pages)} pages, {len(pdf)} bytes; {args.iterations} iterations, one core"
    )
    # Without the optional C accelerator (PyPI `rl-accel`) ReportLab formats every number in
    # Python: 1.3-1.5x slower here, with byte-identical output.
    accelerated = rl_accel.fp_str.__module__ == "_rl_accel"
    print(
        f"reportlab {reportlab.Version}, C accelerator (rl-accel): {'yes' if accelerated else 'no'}"
    )
    data = typical_documents(document)
    measure("render_pdf (the page alone)", lambda: render_pdf(document), args.iterations)
    documents_ms = measure(
        "documents (PDF/A-3 + 3 XMLs)", lambda: build_documents(data), args.iterations
    )
    bare_ms = measure(
        "bare canvas.drawString, same text", lambda: bare_pages(pages), args.iterations
    )
    print(f"documents / bare page: {documents_ms / bare_ms:.2f}x")
    if args.json:
        print(json.dumps({"render_ms": round(documents_ms, 3), "bare_ms": round(bare_ms, 3)}))


if __name__ == "__main__":
    main()
