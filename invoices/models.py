"""Invoices and credit notes, and their lines.

An invoice is `draft` only inside the transaction that builds it; once `issued` its lines,
totals and number never change, nor do its stored documents (`invoices.documents`): the service
refuses, and on PostgreSQL a trigger refuses too. It then becomes `paid`, or `void` through a
credit note that references it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import DecimalText, utc_column, utcnow

INVOICE_STATUSES = ("draft", "issued", "paid", "void")
LINE_KINDS = (
    "fee",
    "discount",
    "overage",
    "late_work",
    "on_demand",
    "service_credit",
    "credit_balance",
    "adjustment",
)
PAYMENT_STATUSES = ("none", "pending", "succeeded", "failed")


def parties_column() -> sa.Column[Any]:
    """JSON whose None is SQL NULL (not JSON `null`): no parties stored."""
    return sa.Column(sa.JSON(none_as_null=True), nullable=True)


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        # One invoice per contract and period, ever (SPEC "Month-end billing job").
        sa.UniqueConstraint("contract_id", "period_start"),
        sa.CheckConstraint("status IN ('draft', 'issued', 'paid', 'void')", name="status_known"),
        sa.CheckConstraint(
            "payment_status IN ('none', 'pending', 'succeeded', 'failed')",
            name="payment_status_known",
        ),
        sa.CheckConstraint("total_minor >= 0", name="total_not_negative"),
        sa.CheckConstraint("total_minor = subtotal_minor + tax_minor", name="total_adds_up"),
        sa.CheckConstraint("status = 'draft' OR number IS NOT NULL", name="issued_has_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True)
    status: str = Field(default="draft", max_length=10)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    period_start: date
    period_end: date
    period_label: str = Field(max_length=7, index=True)
    currency: str = Field(max_length=3)
    issue_date: date | None = None
    due_date: date | None = None
    subtotal_minor: int = Field(default=0, sa_type=sa.BigInteger)
    tax_rate_percent: Decimal = Field(default=Decimal(0), sa_type=DecimalText)
    tax_minor: int = Field(default=0, sa_type=sa.BigInteger)
    total_minor: int = Field(default=0, sa_type=sa.BigInteger)
    reverse_charge: bool = False
    note: str = Field(default="", max_length=500)
    billing_run_id: int | None = Field(default=None, index=True)
    payment_status: str = Field(default="none", max_length=10)
    payment_failure_message: str | None = Field(default=None, max_length=500)
    paid_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    issued_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # The customer and issuer as of issue (`invoices.parties`), set when issued; None before.
    parties: dict[str, Any] | None = Field(default=None, sa_column=parties_column())


class LineColumns(SQLModel):
    """What an invoice line and a credit-note line both hold."""

    position: int
    kind: str = Field(max_length=20)
    description: str = Field(max_length=300)
    quantity: str = Field(max_length=32)
    unit_price_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    amount_minor: int = Field(sa_type=sa.BigInteger)


class InvoiceLine(LineColumns, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)


class CreditNote(SQLModel, table=True):
    """Cancels an issued invoice in full. Numbered in its own gapless sequence."""

    __tablename__ = "credit_notes"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    invoice_id: int = Field(foreign_key="invoices.id", unique=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    currency: str = Field(max_length=3)
    issue_date: date
    reason: str = Field(default="", max_length=500)
    subtotal_minor: int = Field(sa_type=sa.BigInteger)
    tax_minor: int = Field(sa_type=sa.BigInteger)
    total_minor: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # The customer and issuer as of issue (`invoices.parties`); None on notes issued before.
    parties: dict[str, Any] | None = Field(default=None, sa_column=parties_column())


class CreditNoteLine(LineColumns, table=True):
    __tablename__ = "credit_note_lines"
    __table_args__ = (sa.UniqueConstraint("credit_note_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(foreign_key="credit_notes.id", index=True)


class NumberSequence(SQLModel, table=True):
    """The next number per issuer, document kind and year: one row, locked while used."""

    __tablename__ = "number_sequences"
    __table_args__ = (sa.UniqueConstraint("issuer", "kind", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    year: int
    last_value: int = 0


class Adjustment(SQLModel, table=True):
    """A manual amount finance adds to a contract's next invoice (either sign)."""

    __tablename__ = "adjustments"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    description: str = Field(max_length=300)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class CreditCarryover(SQLModel, table=True):
    """Credit that could not be taken on one invoice (it would have gone negative) and is owed
    on the contract's next one."""

    __tablename__ = "credit_carryovers"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    source_invoice_id: int = Field(foreign_key="invoices.id")
    applied_invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
