"""How fast one core renders a typical invoice PDF, against a bare ReportLab lower bound.

The month-end job renders one PDF per contract, so this number sizes a billing run. The lower bound
draws the very same text, page by page, with `canvas.drawString` in the same embedded font: the gap
between the two is the cost of layout (platypus tables, paragraphs, the chart).

    .venv/bin/python bench/pdf_render.py [--iterations 200]
"""

from __future__ import annotations

import argparse
import io
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


def measure(label: str, render: Callable[[], bytes], iterations: int) -> None:
    render()  # warm-up: font parsing, imports
    start = time.perf_counter()
    for _ in range(iterations):
        render()
    elapsed = time.perf_counter() - start
    per_second = iterations / elapsed
    print(f"{label:<38} {per_second:8.1f} renders/s {1000 / per_second:8.2f} ms/render")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
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
    measure("render_pdf (full template)", lambda: render_pdf(document), args.iterations)
    measure("bare canvas.drawString, same text", lambda: bare_pages(pages), args.iterations)


if __name__ == "__main__":
    main()
