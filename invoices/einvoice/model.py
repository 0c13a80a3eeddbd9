"""An EN 16931 invoice or credit note as plain data, in business terms (BT-n), before syntax.

Built from the issued invoice (or credit note) by `invoices.einvoice.mapping`; the CII and UBL
writers only spell it. Amounts are integer minor units of `currency`, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

VatCategory = Literal["S", "AE", "Z"]
REVERSE_CHARGE_REASON = "Reverse charge"
REVERSE_CHARGE_CODE = "VATEX-EU-AE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    name: str
    street: str | None
    city: str | None
    postal_code: str | None
    country: str
    vat_id: str | None
    email: str | None
    contact_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EInvoiceLine:
    line_id: str  # BT-126
    name: str  # BT-153
    quantity: Decimal  # BT-129
    unit_code: str  # BT-130: HUR or C62
    net_price_minor: int  # BT-146, never negative
    amount_minor: int  # BT-131


@dataclass(frozen=True, slots=True, kw_only=True)
class EInvoice:
    type_code: Literal["380", "381"]  # BT-3
    number: str  # BT-1
    issue_date: date  # BT-2
    due_date: date | None  # BT-9
    currency: str  # BT-5
    buyer_reference: str  # BT-10
    period_start: date  # BT-73
    period_end: date  # BT-74 (inclusive)
    seller: Party
    buyer: Party
    iban: str | None  # BT-84
    bic: str | None  # BT-86
    payment_terms: str | None  # BT-20
    lines: tuple[EInvoiceLine, ...]
    vat_category: VatCategory  # BT-118
    vat_rate: Decimal  # BT-119
    line_total_minor: int  # BT-106
    tax_basis_minor: int  # BT-109
    tax_minor: int  # BT-110
    grand_total_minor: int  # BT-112
    prepaid_minor: int  # BT-113
    payable_minor: int  # BT-115
    notes: tuple[str, ...] = ()  # BT-22
    preceding_invoice: str | None = None  # BT-25
    preceding_invoice_date: date | None = None  # BT-26

    def __post_init__(self) -> None:
        """The sums EN 16931 checks (BR-CO-10, -13, -15, -16), refused here before any XML."""
        if sum(line.amount_minor for line in self.lines) != self.line_total_minor:
            raise ValueError("BT-106 is not the sum of the lines")
        if self.tax_basis_minor != self.line_total_minor:
            raise ValueError("BT-109 must equal BT-106 (no document allowances or charges)")
        if self.grand_total_minor != self.tax_basis_minor + self.tax_minor:
            raise ValueError("BT-112 is not BT-109 + BT-110")
        if self.payable_minor != self.grand_total_minor - self.prepaid_minor:
            raise ValueError("BT-115 is not BT-112 - BT-113")
