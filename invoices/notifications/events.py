"""Recording events, in the transaction of what they report, with their webhook outbox rows.

`record_event` is the one way in: it stores `{id, type, created_at, data}` and, in the same
flush, one `webhook_deliveries` row per endpoint subscribed to the type. The hooks below are
what issuing, voiding, payments and billing runs call: one call per place, so each moves with
its caller. `data` is the object as its own GET returns it (the same serializer).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.lines import Line
from invoices.models import CreditNote, Invoice
from invoices.notifications import emails
from invoices.notifications.models import NotificationEvent, WebhookDelivery, WebhookEndpoint
from invoices.runs.models import BillingRun
from ledger.base import utcnow
from ledger.bulk import insert_rows, insert_rows_ids, model_rows
from ledger.customers.models import Customer

if TYPE_CHECKING:
    from invoices.writing import InvoiceRow

INVOICE_ISSUED = "invoice.issued"
INVOICE_PAID = "invoice.paid"
INVOICE_VOIDED = "invoice.voided"
CREDIT_NOTE_ISSUED = "credit_note.issued"
PAYMENT_FAILED = "payment.failed"
HOURS_THRESHOLD_REACHED = "hours.threshold_reached"
BILLING_RUN_COMPLETED = "billing_run.completed"
EVENT_TYPES = (
    INVOICE_ISSUED,
    INVOICE_PAID,
    INVOICE_VOIDED,
    CREDIT_NOTE_ISSUED,
    PAYMENT_FAILED,
    HOURS_THRESHOLD_REACHED,
    BILLING_RUN_COMPLETED,
)


def record_event(
    session: Session, event_type: str, data: dict[str, Any], *, now: datetime | None = None
) -> NotificationEvent:
    """Store the event and queue one delivery per subscribed endpoint; the caller commits."""
    _check(event_type)
    now = now or utcnow()
    event = NotificationEvent(**_event_values(event_type, data, now))
    session.add(event)
    session.flush()
    assert event.id is not None
    _queue_deliveries(session, event_type, [event.id], now=now)
    return event


def record_events(
    session: Session,
    event_type: str,
    datas: Sequence[dict[str, Any]],
    *,
    now: datetime | None = None,
) -> list[int]:
    """`record_event` for many events of one type: the events in one insert, their deliveries
    in one more, as plain rows (`ledger.bulk`); the events' ids, in order."""
    _check(event_type)
    now = now or utcnow()
    ids = insert_rows_ids(
        session,
        NotificationEvent.__table__,  # type: ignore[attr-defined]
        [_event_values(event_type, data, now) for data in datas],
    )
    _queue_deliveries(session, event_type, ids, now=now)
    return ids


def _check(event_type: str) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")


def _event_values(event_type: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "public_id": f"evt_{secrets.token_hex(12)}",
        "type": event_type,
        "data": data,
        "created_at": now,
    }


def _queue_deliveries(
    session: Session, event_type: str, event_ids: Sequence[int], *, now: datetime
) -> None:
    """One delivery per event and endpoint subscribed to its type, in one insert."""
    if not event_ids:
        return
    endpoints = session.scalars(
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.deleted_at).is_(None))
        .order_by(col(WebhookEndpoint.id))
    ).all()
    deliveries = []
    for event_id in event_ids:
        for endpoint in endpoints:
            if event_type in endpoint.events:
                assert endpoint.id is not None
                deliveries.append(
                    WebhookDelivery(
                        event_id=event_id,
                        endpoint_id=endpoint.id,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
    insert_rows(session, WebhookDelivery.__table__, model_rows(deliveries))  # type: ignore[attr-defined]


def _queries() -> Any:
    """The GET serializers, imported when first used: `invoices.queries` imports the issuing
    module, which calls the hooks here."""
    from invoices import queries

    return queries


def _json(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


def invoice_data(session: Session, invoice: Invoice) -> dict[str, Any]:
    return _json(_queries().invoice_to_read(session, invoice))


def credit_note_data(session: Session, note: CreditNote) -> dict[str, Any]:
    return _json(_queries().credit_note_to_read(session, note))


# --- the hooks -----------------------------------------------------------------------------------


def invoices_issued(
    session: Session,
    issued: Sequence[tuple[Invoice | InvoiceRow, Sequence[Line], Customer]],
    *,
    now: datetime | None = None,
) -> None:
    """Invoices were just issued, in this transaction (never for a dry run): their events and
    e-mails, in one insert each. Each event's `data` is the invoice as its GET shows it now,
    built from what issuing holds (`queries.issued_invoice_to_read`): its lines as drafted, no
    documents and no credit note yet (both only exist for an invoice issued earlier)."""
    queries = _queries()
    record_events(
        session,
        INVOICE_ISSUED,
        [_json(queries.issued_invoice_to_read(invoice, lines)) for invoice, lines, _ in issued],
        now=now,
    )
    emails.queue_invoice_emails(
        session, [(invoice, customer) for invoice, _, customer in issued], now=now
    )


def invoice_voided(
    session: Session, invoice: Invoice, note: CreditNote, *, now: datetime | None = None
) -> None:
    """An invoice was voided by a credit note: both events, and the credit note's e-mail."""
    record_event(session, INVOICE_VOIDED, invoice_data(session, invoice), now=now)
    record_event(session, CREDIT_NOTE_ISSUED, credit_note_data(session, note), now=now)
    emails.queue_credit_note_email(session, note, now=now)


def invoice_paid(session: Session, invoice: Invoice, *, now: datetime | None = None) -> None:
    record_event(session, INVOICE_PAID, invoice_data(session, invoice), now=now)


def payment_failed(session: Session, invoice: Invoice, *, now: datetime | None = None) -> None:
    record_event(session, PAYMENT_FAILED, invoice_data(session, invoice), now=now)


def billing_run_completed(
    session: Session, run: BillingRun, *, now: datetime | None = None
) -> None:
    record_event(
        session,
        BILLING_RUN_COMPLETED,
        _json(_queries().billing_run_to_read(run, run.summary)),
        now=now,
    )
