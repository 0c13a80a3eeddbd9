"""Sample PDF documents: SPEC worked example 1 (January) with sensible defaults and overrides."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency

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
)
from ledger.money import from_minor, round_half_up

JANUARY_LINES: tuple[InvoiceLine, ...] = (
    InvoiceLine(
        kind="fee",
        description="Business support plan, 2026-01",
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
        description="Overage 2026-01: 2:00 h at 110.00 EUR/h",
        quantity="2:00 h",
        unit_price_minor=11000,
        amount_minor=22000,
    ),
)

JANUARY_STATEMENT: tuple[StatementEntry, ...] = (
    StatementEntry(
        worked_on=date(2026, 1, 12),
        ticket_ref="HD-1001",
        level=2,
        minutes=480,
        description="Database migration to PostgreSQL 17",
        covered_by="allotment 2026-01",
    ),
    StatementEntry(
        worked_on=date(2026, 1, 20),
        ticket_ref="HD-1007",
        level=3,
        minutes=540,
        description="Performance investigation, checkout service",
        covered_by="allotment 2026-01",
    ),
    StatementEntry(
        worked_on=date(2026, 1, 28),
        ticket_ref="HD-1012",
        level=1,
        minutes=300,
        description="Certificate renewal and monitoring fixes",
        covered_by="allotment 2026-01 (180 min), overage (120 min)",
    ),
)


def make_issuer(**overrides: Any) -> Issuer:
    fields: dict[str, Any] = {
        "name": "Hourglass Support GmbH",
        "address_lines": ("Friedrichstraße 123", "10117 Berlin", "Germany"),
        "tax_id": "DE123456789",
        "email": "billing@hourglass.example",
        "bank_details": ("IBAN DE89 3704 0044 0532 0130 00", "BIC COBADEFFXXX"),
    }
    fields.update(overrides)
    return Issuer(**fields)


def make_customer(**overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "name": "Müller & Söhne GmbH",
        "address_lines": ("Königsallee 7", "40212 Düsseldorf"),
        "country": "Germany",
        "tax_id": "DE987654321",
        "email": "ap@mueller-soehne.example",
    }
    fields.update(overrides)
    return Customer(**fields)


def make_statement(count: int, *, start: date = date(2026, 1, 1)) -> tuple[StatementEntry, ...]:
    """`count` varied work entries in January, ticket refs HD-10000, HD-10001, ..."""
    minutes_cycle = (15, 30, 45, 60, 90, 120, 240)
    return tuple(
        StatementEntry(
            worked_on=start + timedelta(days=index % 31),
            ticket_ref=f"HD-{10000 + index}",
            level=index % 4 + 1,
            minutes=minutes_cycle[index % len(minutes_cycle)],
            description=f"Support work item {index}: investigation, fix and follow-up",
            covered_by="allotment 2026-01" if index % 5 else "overage",
            multiplier="\N{MULTIPLICATION SIGN}1.5" if index % 17 == 0 else None,
        )
        for index in range(count)
    )


def make_document(**overrides: Any) -> PdfDocument:
    """An issued January invoice; subtotal, tax and total follow the lines unless overridden."""
    currency: str = overrides.get("currency", "EUR")
    lines: tuple[InvoiceLine, ...] = overrides.get("lines", JANUARY_LINES)
    rate: Decimal = overrides.get("tax_rate_percent", Decimal("19"))
    reverse_charge: bool = overrides.get("reverse_charge", False)
    subtotal = sum(line.amount_minor for line in lines)
    tax = (
        0
        if reverse_charge
        else round_half_up(from_minor(subtotal, currency) * rate / 100, currency)
    )
    fields: dict[str, Any] = {
        "kind": "invoice",
        "number": "2026-000123",
        "issue_date": date(2026, 2, 1),
        "due_date": date(2026, 3, 3),
        "period": "2026-01",
        "currency": currency,
        "issuer": make_issuer(),
        "customer": make_customer(),
        "lines": lines,
        "subtotal_minor": subtotal,
        "tax_rate_percent": rate,
        "tax_minor": tax,
        "total_minor": subtotal + tax,
        "template_version": TEMPLATE_VERSION,
        "reverse_charge": reverse_charge,
        "hours": HoursSummary(
            granted_minutes=1200,
            used_minutes=1200,
            expired_minutes=0,
            overage_minutes=120,
            remaining_minutes=0,
        ),
        "sla": SlaSummary(
            components=(
                ComponentAvailability(
                    name="platform", availability_percent="99.9954", credit_minor=0
                ),
            ),
            tickets=(
                SeverityTickets(severity="S1", tickets=1, met=1, breached=0),
                SeverityTickets(severity="S2", tickets=3, met=2, breached=1),
                SeverityTickets(severity="S3", tickets=7, met=7, breached=0),
                SeverityTickets(severity="S4", tickets=4, met=4, breached=0),
            ),
        ),
        "payment_instructions": (
            "Please transfer the total by the due date, quoting the invoice number.",
        ),
        "statement": JANUARY_STATEMENT,
    }
    fields.update(overrides)
    return PdfDocument(**fields)


def printed(amount: str | Decimal, currency: str) -> str:
    """An API amount as the PDF prints it ("2000.00", EUR -> "€2,000.00")."""
    return format_currency(Decimal(amount), currency, locale="en")
