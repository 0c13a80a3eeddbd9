"""Events are recorded where what they report happens, in the same transaction, with `data` as
the object's own GET returns it: paid and payment failed (through the Stripe webhook handler),
billing run completed; a rolled-back transaction leaves no event and no delivery."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.notifications import start_notifications_thread
from app.settings import Settings
from invoices.notifications import events
from invoices.notifications.models import NotificationEvent, WebhookDelivery
from invoices.payments.webhooks import handle_event
from invoices.runs.models import BillingRun
from ledger.base import utcnow
from tests.invoices.billing.helpers import Headers
from tests.invoices.notifications.helpers import issue_invoice, register_endpoint
from tests.support.webhook_receiver import WebhookReceiver


def _events(session: Session, event_type: str) -> list[dict[str, Any]]:
    return [
        e.data
        for e in session.scalars(
            select(NotificationEvent)
            .where(col(NotificationEvent.type) == event_type)
            .order_by(col(NotificationEvent.id))
        )
    ]


def _intent_event(event_id: str, event_type: str, invoice: dict[str, Any], **extra: Any) -> Any:
    return {
        "id": event_id,
        "type": event_type,
        "data": {
            "object": {
                "id": f"pi_{event_id}",
                "amount": int(invoice["total"].replace(".", "")),
                "currency": invoice["currency"].lower(),
                "metadata": {"invoice_id": str(invoice["id"]), "invoice_number": invoice["number"]},
                **extra,
            }
        },
    }


def test_paid_and_failed_events_carry_the_invoice(
    client: TestClient, finance: Headers, session: Session
) -> None:
    _, invoice = issue_invoice(client, finance)
    declined = _intent_event(
        "evt_1",
        "payment_intent.payment_failed",
        invoice,
        last_payment_error={"message": "Your card was declined."},
    )
    handle_event(session, declined, now=utcnow())
    again = {**declined, "id": "evt_2"}  # the same decline reported twice: told once
    handle_event(session, again, now=utcnow())
    [failed] = _events(session, "payment.failed")
    assert failed["payment_status"] == "failed"
    assert failed["payment_failure_message"] == "Your card was declined."

    handle_event(session, _intent_event("evt_3", "payment_intent.succeeded", invoice), now=utcnow())
    handle_event(session, _intent_event("evt_4", "payment_intent.succeeded", invoice), now=utcnow())
    [paid] = _events(session, "invoice.paid")
    assert paid == client.get(f"/v1/invoices/{invoice['id']}", headers=finance).json()
    assert paid["status"] == "paid"


def test_billing_run_completed_is_the_run_as_its_get_shows_it(
    client: TestClient, finance: Headers, session: Session
) -> None:
    issue_invoice(client, finance)
    [completed] = _events(session, "billing_run.completed")
    run_id = session.scalar(select(col(BillingRun.id)))
    assert completed == client.get(f"/v1/billing-runs/{run_id}", headers=finance).json()
    assert completed["status"] == "completed" and completed["invoices"] == 1


def test_an_event_is_rolled_back_with_what_it_reports(
    client: TestClient, finance: Headers, session: Session
) -> None:
    register_endpoint(client, finance, "https://hooks.example/", ["invoice.paid"])
    savepoint = session.begin_nested()
    events.record_event(session, events.INVOICE_PAID, {"id": 1})
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1
    savepoint.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(NotificationEvent)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0


def test_unknown_event_type_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        events.record_event(session, "invoice.created", {})


def test_background_thread_delivers(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    """The server's thread (started by `hourglass serve`) delivers without being asked."""
    with WebhookReceiver() as receiver:
        register_endpoint(client, finance, receiver.url, ["invoice.issued"])
        issue_invoice(client, finance)
        thread, stop = start_notifications_thread(
            Settings(), app.state.session_factory, poll_seconds=0.05
        )
        try:
            deadline = time.monotonic() + 10
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(timeout=10)
        assert not thread.is_alive()
        assert len(receiver.requests) == 1
    assert isinstance(thread, threading.Thread)
