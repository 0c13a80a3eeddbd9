"""Response shapes of invoices, credit notes and billing runs. Money as decimal strings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ledger.periods import parse_month
from ledger.validation import Input, MoneyText


class LineRead(BaseModel):
    kind: str
    description: str
    quantity: str
    unit_price: str | None
    amount: str


class InvoiceRead(BaseModel):
    id: int
    number: str | None
    status: str
    currency: str
    period: str
    customer_id: int
    contract_id: int
    issue_date: date | None
    due_date: date | None
    lines: list[LineRead]
    subtotal: str
    tax_rate_percent: str
    tax: str
    total: str
    reverse_charge: bool
    note: str
    pdf_sha256: str | None
    template_version: str | None
    payment_status: str
    payment_failure_message: str | None
    credit_note_id: int | None
    issued_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None


class CreditNoteRead(BaseModel):
    id: int
    number: str
    invoice_id: int
    invoice_number: str | None
    customer_id: int
    currency: str
    issue_date: date
    reason: str
    lines: list[LineRead]
    subtotal: str
    tax: str
    total: str
    pdf_sha256: str | None


class VoidRequest(Input):
    reason: str = Field(default="", max_length=500)


class AdjustmentCreate(Input):
    amount: MoneyText = Field(description="money, either sign: '-50.00' credits the customer")
    description: str = Field(min_length=1, max_length=300)


class AdjustmentRead(BaseModel):
    id: int
    contract_id: int
    amount: str
    description: str
    invoice_id: int | None
    created_at: datetime


class BillingRunCreate(Input):
    period: str = Field(description="YYYY-MM")
    dry_run: bool = False

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        parse_month(value)
        return value


class PreviewRead(BaseModel):
    contract_id: int
    customer_id: int
    period: str
    currency: str
    lines: list[LineRead]
    subtotal: str
    tax: str
    total: str
    notes: list[str]


class BillingRunRead(BaseModel):
    id: int | None
    period: str
    dry_run: bool
    status: str  # running | completed | completed_with_failures | preview (a dry run)
    contracts: int
    done: int = 0
    failed: int = 0
    invoices: int
    totals: dict[str, str]
    failures: list[dict[str, Any]]
    previews: list[PreviewRead] | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
