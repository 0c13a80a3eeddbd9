"""The `customers` table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import DecimalText, utc_column, utcnow


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        sa.CheckConstraint("payment_terms_days >= 0", name="terms_not_negative"),
        sa.CheckConstraint(
            "e_invoice_format IN ('cii', 'xrechnung', 'ubl')", name="e_invoice_format_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    country: str = Field(max_length=2)
    timezone: str = Field(max_length=64)
    holiday_region: str = Field(max_length=16)
    tax_rate_percent: Decimal = Field(sa_type=DecimalText)
    reverse_charge: bool = False
    payment_terms_days: int = 30
    address: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    tax_id: str | None = Field(default=None, max_length=64)
    vat_id: str | None = Field(default=None, max_length=64)
    buyer_reference: str | None = Field(default=None, max_length=200)
    street: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    e_invoice_format: str = Field(default="cii", max_length=16)
    stripe_customer_id: str | None = Field(default=None, max_length=255)
    default_payment_method_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
