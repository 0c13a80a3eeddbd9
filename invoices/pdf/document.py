"""What goes on an invoice or credit-note PDF, as plain frozen data.

The billing code builds a `PdfDocument` from an issued invoice; the renderer turns it into bytes
and never looks anything up. Keeping the page's content in one immutable value is what makes the
PDF reproducible: the same value always renders to the same bytes.

Money is integer minor units of `currency`, time is integer minutes (SPEC "Units and money").
Amounts are rendered as given: a credit note may carry negative or positive amounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from ledger.money import exponent

DocumentKind = Literal["invoice", "credit_note"]

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True, kw_only=True)
class Issuer:
    """The company that issues the invoice; `bank_details` are printed with the payment block."""

    name: str
    address_lines: tuple[str, ...] = ()
    tax_id: str | None = None
    email: str | None = None
    bank_details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    """The invoiced customer, printed as given (any Latin script name or address)."""

    name: str
    address_lines: tuple[str, ...] = ()
    country: str | None = None
    tax_id: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLine:
    """One invoice line. `quantity` is display text ("2:00 h", "1") chosen by the billing code."""

    kind: str  # fee, discount, overage, late_work, on_demand, service_credit, ...
    description: str
    quantity: str
    unit_price_minor: int | None
    amount_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HoursSummary:
    """The period's hours as on the statement; `pool` describes a pool the month belongs to."""

    granted_minutes: int
    used_minutes: int
    expired_minutes: int
    overage_minutes: int
    remaining_minutes: int
    pool: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentAvailability:
    """A component's availability for the month, already computed and formatted ("99.3056")."""

    name: str
    availability_percent: str
    credit_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityTickets:
    """First-response results for one severity (S1 to S4) in the month."""

    severity: str
    tickets: int
    met: int
    breached: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaSummary:
    components: tuple[ComponentAvailability, ...] = ()
    tickets: tuple[SeverityTickets, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementEntry:
    """One work entry of the hours statement and what paid for it.

    `covered_by` is display text: "allotment 2026-02/2026-03 (pool)", "overage", "late work".
    `multiplier` is display text for work counted at an after-hours rate (1.5 times, say).
    """

    worked_on: date
    ticket_ref: str
    level: int
    minutes: int
    description: str
    covered_by: str
    multiplier: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.level <= 4:
            raise ValueError(f"support level must be 1 to 4, got {self.level}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PdfDocument:
    """Everything printed on one invoice or credit note.

    `template_version` must be the renderer's `TEMPLATE_VERSION`: a stored PDF records the template
    that made it, and an old invoice is served as stored, never silently re-rendered by a newer one.
    """

    kind: DocumentKind
    number: str
    issue_date: date
    due_date: date | None
    period: str
    currency: str
    issuer: Issuer
    customer: Customer
    lines: tuple[InvoiceLine, ...]
    subtotal_minor: int
    tax_rate_percent: Decimal
    tax_minor: int
    total_minor: int
    template_version: str
    reverse_charge: bool = False
    credited_invoice_number: str | None = None
    hours: HoursSummary | None = None
    sla: SlaSummary | None = None
    payment_instructions: tuple[str, ...] = ()
    statement: tuple[StatementEntry, ...] = ()
    sample: bool = False  # issued by the built-in sample issuer: marked on every page

    def __post_init__(self) -> None:
        """Refuse a document whose page would contradict itself; a wrong PDF is worse than none."""
        if self.kind not in ("invoice", "credit_note"):
            raise ValueError(f"unknown document kind {self.kind!r}")
        if not _PERIOD.fullmatch(self.period):
            raise ValueError(f"period must be YYYY-MM, got {self.period!r}")
        exponent(self.currency)  # raises UnknownCurrency
        if self.kind == "credit_note" and not self.credited_invoice_number:
            raise ValueError("a credit note must name the invoice it credits")
        if self.kind == "invoice" and self.due_date is None:
            raise ValueError("an invoice needs a due date")
        if sum(line.amount_minor for line in self.lines) != self.subtotal_minor:
            raise ValueError("subtotal_minor is not the sum of the lines")
        if self.subtotal_minor + self.tax_minor != self.total_minor:
            raise ValueError("total_minor is not subtotal_minor + tax_minor")
        if self.reverse_charge and self.tax_minor != 0:
            raise ValueError("a reverse-charge document carries no tax")
