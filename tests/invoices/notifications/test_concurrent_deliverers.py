"""Several deliverers share the outboxes (SKIP LOCKED + lease): every webhook event reaches its
endpoint once and every e-mail leaves once, however many run side by side."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from app.db import make_engine, session_factory, unit_of_work
from invoices.notifications import emails, events, mailer, webhooks
from invoices.notifications.endpoints import WebhookEndpointCreate, create_endpoint
from invoices.notifications.models import EmailOutbox
from ledger.hours.alerts import HoursAlert
from tests.factories import create_contract
from tests.support.smtp_server import SmtpServer
from tests.support.webhook_receiver import WebhookReceiver

EVENTS = 30
DELIVERERS = 4


def _together(work: Callable[[], object]) -> None:
    barrier = threading.Barrier(DELIVERERS)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(DELIVERERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.postgres_only
def test_parallel_webhook_deliverers_deliver_each_event_once(fresh_database: str) -> None:
    engine = make_engine(fresh_database, pool_size=DELIVERERS + 2)
    factory = session_factory(engine)
    try:
        with WebhookReceiver() as receiver:
            with unit_of_work(factory) as session:
                create_endpoint(
                    session, WebhookEndpointCreate(url=receiver.url, events=["invoice.paid"])
                )
                for n in range(EVENTS):
                    events.record_event(session, events.INVOICE_PAID, {"n": n})
            _together(lambda: webhooks.deliver_pending(factory))
            received = Counter(json.loads(r.body)["data"]["n"] for r in receiver.requests)
        assert received == Counter(range(EVENTS))
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_parallel_senders_send_each_email_once(fresh_database: str) -> None:
    engine = make_engine(fresh_database, pool_size=DELIVERERS + 2)
    factory = session_factory(engine)
    server = SmtpServer()
    server.start()
    try:
        with unit_of_work(factory) as session:
            contract = create_contract(session)
            assert contract.id is not None
            for n in range(EVENTS):
                alert = HoursAlert(
                    contract_id=contract.id,
                    scope_start=contract.start_date,
                    months=["2026-01"],
                    threshold_percent=n + 1,
                    granted_minutes=1200,
                    used_minutes=1200,
                )
                session.add(alert)
                session.flush()
                row = emails.queue_alert_email(session, alert)
                row.recipients = [f"c{n}@acme.example"]
                row.state = "pending"
        config = mailer.parse_smtp_url(server.url, mail_from="hours@hourglass.example")
        _together(lambda: mailer.send_pending(factory, config))
        received = Counter(r.recipients[0] for r in server.received)
        assert received == Counter(f"c{n}@acme.example" for n in range(EVENTS))
        with unit_of_work(factory) as session:
            states = Counter(row.state for row in session.query(EmailOutbox))
        assert states == {"sent": EVENTS}
    finally:
        server.stop()
        engine.dispose()
