"""The payment outbox: the intent to collect an invoice, written with the invoice itself.

A separate step (`hourglass payments collect`, also run after a billing run) turns each pending
row into a Stripe PaymentIntent with an idempotency key derived from the invoice, so a crash
anywhere between issuing and charging can neither lose the charge nor make it twice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class PaymentOutbox(SQLModel, table=True):
    __tablename__ = "payment_outbox"
    __table_args__ = (
        sa.CheckConstraint(
            "state IN ('pending', 'succeeded', 'failed', 'cancelled')", name="state_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", unique=True)
    state: str = Field(default="pending", max_length=10, index=True)
    idempotency_key: str = Field(max_length=100)
    attempts: int = 0
    payment_intent_id: str | None = Field(default=None, max_length=255)
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # Who talks to Stripe about this invoice's PaymentIntent holds it until then (a collector,
    # or the portal's card payment): one at a time, so two can never both confirm a charge.
    leased_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
