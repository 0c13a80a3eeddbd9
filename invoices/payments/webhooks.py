"""Stripe webhook events, applied once each (the gateway has verified the signature already).

- `payment_intent.succeeded` marks the invoice paid (`recording.record_success`).
- `payment_intent.payment_failed` records the failure message on the invoice, unless the event is
  about an earlier attempt (its idempotency key is no longer the outbox's current key): a late
  event never overwrites a newer outcome, and never undoes a payment.
- Anything else is acknowledged and ignored.

The invoice is found by the PaymentIntent's metadata (`invoice_id`, checked against
`invoice_number`, so a PaymentIntent of another Hourglass database on the same Stripe account is
not mistaken for ours), or else by the PaymentIntent id the outbox recorded. An event for no
invoice of ours is acknowledged, logged and ignored: Stripe would otherwise redeliver it for days.
A success must match the invoice's total and currency, or it is ignored (and logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.payments import recording
from invoices.payments.models import PaymentOutbox
from invoices.payments.stripe_events import StripeEvent
from invoices.payments.stripe_gateway import InvalidWebhook

log = logging.getLogger("hourglass.payments")

SUCCEEDED = "payment_intent.succeeded"
FAILED = "payment_intent.payment_failed"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    event_type: str
    duplicate: bool
    outcome: str


def handle_event(session: Session, event: Mapping[str, Any], *, now: datetime) -> WebhookOutcome:
    """Apply a verified event in the caller's transaction; a redelivered event changes nothing.

    The event id is inserted first, in a savepoint: of two simultaneous deliveries, the second
    waits on the unique index, fails, and applies nothing.
    """
    event_id = event.get("id")
    event_type = str(event.get("type"))
    if not isinstance(event_id, str) or not event_id:
        raise InvalidWebhook("the event has no id")
    earlier = session.scalar(select(StripeEvent).where(col(StripeEvent.event_id) == event_id))
    if earlier is not None:
        return WebhookOutcome(event_id, event_type, True, earlier.outcome)
    record = StripeEvent(event_id=event_id, event_type=event_type[:100], received_at=now)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        return WebhookOutcome(event_id, event_type, True, "already processed")

    intent = _payment_intent(event)
    if event_type not in (SUCCEEDED, FAILED):
        outcome = f"ignored: {event_type} is not handled"
    elif intent is None:
        outcome = "ignored: the event carries no PaymentIntent"
    else:
        invoice, row = _find_invoice(session, intent)
        record.payment_intent_id = str(intent.get("id"))[:255]
        if invoice is None:
            outcome = f"ignored: no invoice of ours for payment {intent.get('id')}"
            log.info("webhook %s (%s): %s", event_id, event_type, outcome)
        else:
            record.invoice_id = invoice.id
            if event_type == SUCCEEDED:
                outcome = _on_succeeded(session, invoice, row, intent, now=now)
            else:
                outcome = _on_failed(session, invoice, row, intent, now=now)
    record.outcome = recording.clip(outcome)
    session.flush()
    return WebhookOutcome(event_id, event_type, False, record.outcome)


def _on_succeeded(
    session: Session,
    invoice: Invoice,
    row: PaymentOutbox | None,
    intent: Mapping[str, Any],
    *,
    now: datetime,
) -> str:
    amount, currency = intent.get("amount"), str(intent.get("currency", "")).upper()
    if amount != invoice.total_minor or currency != invoice.currency:
        outcome = (
            f"ignored: payment {intent.get('id')} of {amount} {currency} does not match invoice "
            f"{invoice.number} ({invoice.total_minor} {invoice.currency})"
        )
        log.warning("webhook: %s", outcome)
        return outcome
    return recording.record_success(
        session, invoice, row, payment_intent_id=str(intent["id"]), now=now
    )


def _on_failed(
    session: Session,
    invoice: Invoice,
    row: PaymentOutbox | None,
    intent: Mapping[str, Any],
    *,
    now: datetime,
) -> str:
    key = _metadata(intent).get("idempotency_key")
    if row is not None and key is not None and key != row.idempotency_key:
        return "ignored: the failure of an earlier attempt"
    error = intent.get("last_payment_error")
    message = error.get("message") if isinstance(error, Mapping) else None
    return recording.record_failure(
        session,
        invoice,
        row,
        message=str(message or "the payment failed"),
        payment_intent_id=str(intent["id"]),
        now=now,
        retry_at=None,  # the schedule is the collector's (a new card may have re-armed it)
        spent_key=key,
    )


def _payment_intent(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    data = event.get("data")
    found = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(found, Mapping) or not isinstance(found.get("id"), str):
        return None
    return found


def _metadata(intent: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = intent.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _find_invoice(
    session: Session, intent: Mapping[str, Any]
) -> tuple[Invoice | None, PaymentOutbox | None]:
    """The invoice (locked) and its outbox row (locked, in that order) a PaymentIntent pays."""
    metadata = _metadata(intent)
    raw_id = str(metadata.get("invoice_id", ""))
    invoice_id: int | None = int(raw_id) if raw_id.isdigit() else None
    if invoice_id is None:
        invoice_id = session.scalar(
            select(col(PaymentOutbox.invoice_id)).where(
                col(PaymentOutbox.payment_intent_id) == intent["id"]
            )
        )
    if invoice_id is None:
        return None, None
    invoice = session.scalar(select(Invoice).where(col(Invoice.id) == invoice_id).with_for_update())
    number = metadata.get("invoice_number")
    if invoice is None or invoice.status == "draft" or (number and number != invoice.number):
        return None, None
    row = session.scalar(
        select(PaymentOutbox).where(col(PaymentOutbox.invoice_id) == invoice_id).with_for_update()
    )
    return invoice, row
