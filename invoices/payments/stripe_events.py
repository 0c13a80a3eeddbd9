"""The Stripe webhook events already handled: one row per event id, so each is applied once.

Stripe delivers at least once (and again whenever we answer late or not 2xx), so the event id is
claimed in the same transaction that applies the event: a redelivery finds the row and changes
nothing, and two simultaneous deliveries collide on the unique index instead of both applying.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class StripeEvent(SQLModel, table=True):
    __tablename__ = "stripe_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255, unique=True)
    event_type: str = Field(max_length=100)
    payment_intent_id: str | None = Field(default=None, max_length=255)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    outcome: str = Field(default="", max_length=500)
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
