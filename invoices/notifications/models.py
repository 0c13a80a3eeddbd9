"""Tables of the notifications: events, webhook endpoints and their deliveries, e-mails.

Both outboxes (`webhook_deliveries`, `email_outbox`) are written in the transaction of what they
report, and emptied by the deliverer outside any transaction, the way the payment outbox is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class NotificationEvent(SQLModel, table=True):
    """Something that happened, as a webhook receiver sees it: `{id, type, created_at, data}`."""

    __tablename__ = "notification_events"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=40, unique=True)
    type: str = Field(max_length=40, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class WebhookEndpoint(SQLModel, table=True):
    """A receiver of events. The secret signs every delivery, so it is kept as given (it is a
    shared key, not a password); the API shows it only in the answer to the POST."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    secret: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    deleted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: the webhook outbox row (at most one per pair)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id"),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed', 'cancelled')", name="state_known"
        ),
        sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="notification_events.id")
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id")
    state: str = Field(default="pending", max_length=10)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = Field(
        default_factory=utcnow, sa_column=utc_column(nullable=True)
    )
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class WebhookAttempt(SQLModel, table=True):
    """Each HTTP attempt of a delivery, for the deliveries log and the failure count."""

    __tablename__ = "webhook_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_deliveries.id", index=True)
    attempt: int
    attempted_at: datetime = Field(sa_column=utc_column())
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    succeeded: bool = False
    duration_ms: int = 0


class EmailOutbox(SQLModel, table=True):
    """One e-mail to send: an issued invoice, an issued credit note or an hours alert.

    States: `pending` (due at `next_attempt_at`) → `sending` (the message's DATA is being
    handed to the mail server) → `sent`; `skipped` when there is nobody to send it to.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('invoice', 'credit_note', 'hours_alert')", name="kind_known"),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'skipped', 'failed')", name="state_known"
        ),
        sa.Index("ix_email_outbox_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", unique=True)
    credit_note_id: int | None = Field(default=None, foreign_key="credit_notes.id", unique=True)
    hours_alert_id: int | None = Field(default=None, foreign_key="hours_alerts.id", unique=True)
    message_id: str = Field(max_length=250, unique=True)
    state: str = Field(default="pending", max_length=10)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    sending_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
