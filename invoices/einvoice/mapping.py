"""From an issued invoice (or credit note) to EN 16931 business terms.

- Every invoice line is an e-invoice line. Hours (overage, late work, on-demand) are `HUR` at
  the hourly rate; everything else is one unit (`C62`) at the line's amount. EN 16931 wants
  non-negative prices (BR-27), so a negative line (discount, credit) is quantity -1 at the
  positive amount: the line amount (BT-131) is the invoice line's, to the minor unit.
- Credit carried from earlier invoices is a prepaid amount (BT-113) when the invoice carries
  no VAT: then BT-115 = BT-112 - BT-113 is the invoice's total and every other figure is the
  lines'. When
  VAT is due, the invoice taxed the subtotal *after* the credit, so the credit is part of the
  taxable amount and stays an invoice line (a negative one): showing it as a prepayment would
  make BT-110 disagree with the invoice's tax or break BR-CO-17.
- A credit note (type 381) carries the credited invoice's figures positive and names it (BT-25).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from invoices.einvoice.model import EInvoice, EInvoiceLine, Party, VatCategory
from invoices.issuer import IssuerDetails

HOURS_KINDS = frozenset({"overage", "late_work", "on_demand"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLine:
    kind: str
    description: str
    quantity: str
    unit_price_minor: int | None
    amount_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Buyer:
    customer_id: int
    name: str
    street: str | None
    city: str | None
    postal_code: str | None
    country: str
    vat_id: str | None
    email: str | None
    buyer_reference: str | None


def _hours(quantity: str) -> Decimal | None:
    try:
        value = Decimal(quantity)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def einvoice_line(position: int, line: SourceLine) -> EInvoiceLine:
    hours = _hours(line.quantity) if line.kind in HOURS_KINDS else None
    if hours is not None and line.unit_price_minor is not None and line.amount_minor >= 0:
        return EInvoiceLine(
            line_id=str(position),
            name=line.description,
            quantity=hours,
            unit_code="HUR",
            net_price_minor=line.unit_price_minor,
            amount_minor=line.amount_minor,
        )
    return EInvoiceLine(
        line_id=str(position),
        name=line.description,
        quantity=Decimal(-1 if line.amount_minor < 0 else 1),
        unit_code="C62",
        net_price_minor=abs(line.amount_minor),
        amount_minor=line.amount_minor,
    )


def vat_category(*, reverse_charge: bool, rate: Decimal) -> VatCategory:
    if reverse_charge:
        return "AE"
    return "S" if rate > 0 else "Z"


def build_einvoice(
    *,
    credit_note: bool,
    number: str,
    issue_date: date,
    due_date: date | None,
    currency: str,
    period_start: date,
    period_end_exclusive: date,
    issuer: IssuerDetails,
    buyer: Buyer,
    lines: Sequence[SourceLine],
    tax_rate_percent: Decimal,
    tax_minor: int,
    total_minor: int,
    reverse_charge: bool,
    notes: Sequence[str] = (),
    preceding_invoice: str | None = None,
    preceding_invoice_date: date | None = None,
) -> EInvoice:
    """`lines`, `tax_minor` and `total_minor` as the invoice has them (for a credit note: the
    credited invoice's, positive)."""
    category = vat_category(reverse_charge=reverse_charge, rate=tax_rate_percent)
    # Credit taken from earlier invoices (a negative credit_balance line); a positive one
    # (credit carried forward, or withdrawn with a void) stays a line.
    taken = [line for line in lines if line.kind == "credit_balance" and line.amount_minor < 0]
    prepaid = 0
    if tax_minor == 0 and taken:
        prepaid = -sum(line.amount_minor for line in taken)
        lines = [line for line in lines if all(line is not t for t in taken)]
    e_lines = tuple(einvoice_line(position, line) for position, line in enumerate(lines, 1))
    line_total = sum(line.amount_minor for line in e_lines)
    rate = Decimal(0) if category != "S" else tax_rate_percent
    seller = Party(
        name=issuer.name,
        street=issuer.street,
        city=issuer.city,
        postal_code=issuer.postal_code,
        country=issuer.country or "DE",
        vat_id=issuer.tax_id,
        email=issuer.email,
        contact_name=issuer.contact_name,
        phone=issuer.phone,
    )
    party = Party(
        name=buyer.name,
        street=buyer.street,
        city=buyer.city,
        postal_code=buyer.postal_code,
        country=buyer.country,
        vat_id=buyer.vat_id,
        email=buyer.email,
    )
    return EInvoice(
        type_code="381" if credit_note else "380",
        number=number,
        issue_date=issue_date,
        due_date=due_date,
        currency=currency,
        buyer_reference=buyer.buyer_reference or str(buyer.customer_id),
        period_start=period_start,
        period_end=period_end_exclusive - timedelta(days=1),
        seller=seller,
        buyer=party,
        iban=issuer.iban,
        bic=issuer.bic,
        payment_terms=(
            "The amount is credited to the buyer; nothing is to be paid."
            if credit_note
            else f"Payable by {due_date.isoformat()}, quoting {number}."
            if due_date
            else None
        ),
        lines=e_lines,
        vat_category=category,
        vat_rate=rate,
        line_total_minor=line_total,
        tax_basis_minor=line_total,
        tax_minor=tax_minor,
        grand_total_minor=line_total + tax_minor,
        prepaid_minor=prepaid,
        payable_minor=total_minor,
        notes=tuple(notes),
        preceding_invoice=preceding_invoice,
        preceding_invoice_date=preceding_invoice_date,
    )
