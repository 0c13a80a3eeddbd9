"""Figures for `/metrics`: `hourglass_outbox_depth{outbox="emails"|"webhooks"}` and
`hourglass_webhook_delivery_failures_total`. Each is one aggregate query."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from invoices.notifications.models import EmailOutbox, WebhookAttempt, WebhookDelivery


def email_outbox_depth(session: Session) -> int:
    """E-mails not sent yet (waiting, retrying or being sent)."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(EmailOutbox)
            .where(col(EmailOutbox.state).in_(["pending", "sending"]))
        )
        or 0
    )


def webhook_outbox_depth(session: Session) -> int:
    """Deliveries not acknowledged yet and still being tried."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookDelivery)
            .where(col(WebhookDelivery.state) == "pending")
        )
        or 0
    )


def webhook_delivery_failures(session: Session) -> int:
    """Every delivery attempt that got no 2xx, ever (a counter: it only grows)."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookAttempt)
            .where(col(WebhookAttempt.succeeded).is_(False))
        )
        or 0
    )
