"""The stored documents of issued invoices and credit notes: one row per document and format.

Documents are rendered from the issued, immutable invoice (or credit note) after it exists, so
they live apart from it: an invoice is issued first, its documents follow (inline today, in
document jobs on any worker later). Rows are insert-only; a format is stored once per invoice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow

FORMATS = ("pdf", "cii", "xrechnung", "ubl")


class InvoiceDocument(SQLModel, table=True):
    __tablename__ = "invoice_documents"
    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "format"),
        sa.UniqueConstraint("credit_note_id", "format"),
        sa.CheckConstraint("(invoice_id IS NULL) <> (credit_note_id IS NULL)", name="one_owner"),
        sa.CheckConstraint("format IN ('pdf', 'cii', 'xrechnung', 'ubl')", name="format_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    credit_note_id: int | None = Field(default=None, foreign_key="credit_notes.id")
    format: str = Field(max_length=16)
    content: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    template_version: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
