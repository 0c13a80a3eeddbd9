"""Webhooks out: endpoints (secret shown once, http(s) only), events fanned out into the outbox
in the transaction of what they report, signed deliveries to a real loopback receiver that fails,
hangs and then accepts, backoff for days, at most one acknowledged delivery, the deliveries log.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.notifications import webhooks
from invoices.notifications.metrics import webhook_delivery_failures, webhook_outbox_depth
from invoices.notifications.models import NotificationEvent, WebhookDelivery
from tests.invoices.billing.helpers import Headers
from tests.invoices.notifications.helpers import (
    Clock,
    issue_invoice,
    register_endpoint,
    verify_signature,
)
from tests.support.webhook_receiver import WebhookReceiver

ALL = [
    "invoice.issued",
    "invoice.paid",
    "invoice.voided",
    "credit_note.issued",
    "payment.failed",
    "hours.threshold_reached",
    "billing_run.completed",
]


def _deliver(app: Any, clock: Clock, **kwargs: Any) -> webhooks.DeliverySummary:
    return webhooks.deliver_pending(app.state.session_factory, clock=clock, **kwargs)


def test_endpoint_secret_is_shown_once(client: TestClient, finance: Headers) -> None:
    created = register_endpoint(
        client, finance, "https://hooks.example/in", ["invoice.paid", "invoice.issued"]
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["events"] == ["invoice.issued", "invoice.paid"]
    read = client.get(f"/v1/webhook-endpoints/{created['id']}", headers=finance).json()
    assert read["secret"] is None and read["url"] == "https://hooks.example/in"
    listed = client.get("/v1/webhook-endpoints", headers=finance).json()["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert all(e["secret"] is None for e in listed)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example/in",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://hooks.example",
        "https://",
        "https://user:pw@hooks.example/in",
        "hooks.example/in",
        "https://hooks.example/in#x",
        "http://hooks.example:99999/",
    ],
)
def test_only_http_urls(client: TestClient, finance: Headers, session: Session, url: str) -> None:
    response = client.post(
        "/v1/webhook-endpoints", json={"url": url, "events": ["invoice.paid"]}, headers=finance
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/webhook-endpoints", headers=finance).json()["items"] == []


@pytest.mark.parametrize("events", [[], ["invoice.created"], ["invoice.paid", "invoice.paid"], "x"])
def test_events_are_validated(client: TestClient, finance: Headers, events: object) -> None:
    response = client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example/in", "events": events},
        headers=finance,
    )
    assert response.status_code == 422, response.text


def test_only_finance_manages_endpoints(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    body = {"url": "https://hooks.example/in", "events": ["invoice.paid"]}
    assert client.post("/v1/webhook-endpoints", json=body, headers=support).status_code == 403
    assert client.get("/v1/webhook-endpoints", headers=support).status_code == 403
    assert client.post("/v1/webhook-endpoints", json=body).status_code == 401


def test_events_fan_out_to_subscribed_endpoints_only(
    client: TestClient, finance: Headers, session: Session
) -> None:
    issued = register_endpoint(client, finance, "https://a.example/", ["invoice.issued"])
    everything = register_endpoint(client, finance, "https://b.example/", ALL)
    register_endpoint(client, finance, "https://c.example/", ["invoice.paid"])
    _, invoice = issue_invoice(client, finance)
    rows = session.execute(
        select(col(NotificationEvent.type), col(WebhookDelivery.endpoint_id))
        .join(WebhookDelivery, col(WebhookDelivery.event_id) == col(NotificationEvent.id))
        .order_by(col(WebhookDelivery.id))
    ).all()
    assert sorted(rows) == sorted(
        [
            ("invoice.issued", issued["id"]),
            ("invoice.issued", everything["id"]),
            ("billing_run.completed", everything["id"]),
        ]
    )
    event = session.scalar(
        select(NotificationEvent).where(col(NotificationEvent.type) == "invoice.issued")
    )
    assert event is not None
    # data is the invoice as its GET returned it when it was issued: its documents are rendered
    # after the issuing commit, so their digest and template are not known yet
    shown = client.get(f"/v1/invoices/{invoice['id']}", headers=finance).json()
    assert event.data == shown | {"pdf_sha256": None, "template_version": None}
    assert shown["pdf_sha256"] is not None


def test_void_records_invoice_voided_and_credit_note_issued(
    client: TestClient, finance: Headers, session: Session
) -> None:
    register_endpoint(
        client, finance, "https://a.example/", ["invoice.voided", "credit_note.issued"]
    )
    _, invoice = issue_invoice(client, finance)
    response = client.post(f"/v1/invoices/{invoice['id']}/void", json={}, headers=finance)
    assert response.status_code == 201, response.text
    note = response.json()
    events = {
        e.type: e.data
        for e in session.scalars(select(NotificationEvent).order_by(col(NotificationEvent.id)))
    }
    assert events["credit_note.issued"] == note
    assert events["invoice.voided"]["status"] == "void"
    assert (
        events["invoice.voided"]
        == client.get(f"/v1/invoices/{invoice['id']}", headers=finance).json()
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 2


def test_dry_run_records_no_event(client: TestClient, finance: Headers, session: Session) -> None:
    register_endpoint(client, finance, "https://a.example/", ALL)
    issue_invoice(client, finance)
    before = session.scalar(sa.select(sa.func.count()).select_from(NotificationEvent))
    response = client.post(
        "/v1/billing-runs", json={"period": "2026-02", "dry_run": True}, headers=finance
    )
    assert response.status_code in (200, 201) and response.json()["status"] == "preview"
    assert response.json()["invoices"] == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(NotificationEvent)) == before


def test_fails_times_out_then_accepts_with_backoff(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    clock = Clock()
    with WebhookReceiver(500, ("sleep", 2.0), 200) as receiver:
        endpoint = register_endpoint(client, finance, receiver.url, ["invoice.issued"])
        _, invoice = issue_invoice(client, finance)
        session.execute(sa.update(WebhookDelivery).values(next_attempt_at=clock.now))
        session.flush()

        first = _deliver(app, clock, timeout=0.5)
        assert (first.delivered, first.retried) == (0, 1)
        assert first.outcomes[0][1] == 500
        delivery = session.scalar(select(WebhookDelivery))
        assert delivery is not None
        session.refresh(delivery)
        assert delivery.next_attempt_at is not None
        assert timedelta(0) < delivery.next_attempt_at - clock.now <= timedelta(minutes=1)
        assert _deliver(app, clock, timeout=0.5).outcomes == []  # not due yet

        clock.advance(timedelta(minutes=1))
        second = _deliver(app, clock, timeout=0.5)
        assert second.outcomes[0][1] is None and "timed out" in str(second.outcomes[0][2])

        clock.advance(timedelta(minutes=2))
        third = _deliver(app, clock, timeout=0.5)
        assert third.delivered == 1

        clock.advance(timedelta(days=1))
        assert _deliver(app, clock, timeout=0.5).outcomes == []  # acknowledged: never again
        assert len(receiver.requests) == 3

    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # the same event, byte for byte, every time
    payload = json.loads(receiver.requests[-1].body)
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["type"] == "invoice.issued" and payload["data"]["id"] == invoice["id"]
    assert payload["id"].startswith("evt_")
    for request in receiver.requests:
        assert request.headers["Content-Type"] == "application/json"
        stamp = verify_signature(
            request.headers["Hourglass-Signature"], request.body, endpoint["secret"]
        )
        assert abs(stamp - clock.now.timestamp()) < 4 * 86400

    log = client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=finance).json()
    [entry] = log["items"]
    assert entry["state"] == "delivered" and entry["attempts"] == 3
    assert entry["event_id"] == payload["id"] and entry["next_attempt_at"] is None
    assert entry["delivered_at"] is not None
    assert [a["status_code"] for a in entry["attempt_log"]] == [500, None, 200]
    assert webhook_delivery_failures(session) == 2
    assert webhook_outbox_depth(session) == 0


def test_retries_for_more_than_a_day_then_gives_up(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    clock = Clock()
    with WebhookReceiver(default=503) as receiver:
        endpoint = register_endpoint(client, finance, receiver.url, ["invoice.issued"])
        issue_invoice(client, finance)
        session.execute(
            sa.update(WebhookDelivery).values(next_attempt_at=clock.now, created_at=clock.now)
        )
        session.execute(sa.update(NotificationEvent).values(created_at=clock.now))
        session.flush()
        start = clock.now
        tries = []
        for _ in range(60):
            summary = _deliver(app, clock, timeout=0.5)
            assert len(summary.outcomes) == 1
            tries.append(clock.now)
            if summary.failed:
                break
            delivery = session.scalar(select(WebhookDelivery))
            assert delivery is not None
            session.refresh(delivery)
            assert delivery.next_attempt_at is not None
            clock.now = delivery.next_attempt_at
        else:
            pytest.fail("never gave up")
    last_try = tries[-1]
    assert tries[1] - tries[0] <= timedelta(minutes=1)
    assert last_try - start >= timedelta(hours=24)
    assert webhook_outbox_depth(session) == 0
    log = client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=finance).json()
    assert log["items"][0]["state"] == "failed"
    assert 10 <= len(receiver.requests) <= 30


def test_the_timeout_bounds_the_whole_answer(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    """A receiver that drips a 200 a byte every 0.1 s never trips a per-read timeout of 0.5 s,
    but the whole answer takes seconds: cut off at the deadline, and not acknowledged."""
    clock = Clock()
    with WebhookReceiver(("drip", 0.1)) as receiver:
        register_endpoint(client, finance, receiver.url, ["invoice.issued"])
        issue_invoice(client, finance)
        session.execute(sa.update(WebhookDelivery).values(next_attempt_at=clock.now))
        session.flush()
        started = time.monotonic()
        summary = _deliver(app, clock, timeout=0.5)
        elapsed = time.monotonic() - started
    assert summary.delivered == 0 and summary.retried == 1
    assert "timed out" in str(summary.outcomes[0][2])
    assert elapsed < 2.5


def test_backoff_grows_from_seconds_to_hours() -> None:
    delays = [webhooks.backoff(n) for n in range(1, 20)]
    assert delays[0] <= timedelta(minutes=1)
    assert delays == sorted(delays)
    assert delays[-1] == webhooks.LAST_RETRY
    assert timedelta(hours=24) <= webhooks.RETRY_FOR
    assert webhooks.TIMEOUT_SECONDS == 10


def test_deleted_endpoint_gets_nothing_more(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    clock = Clock()
    with WebhookReceiver(default=500) as receiver:
        endpoint = register_endpoint(client, finance, receiver.url, ["invoice.issued"])
        issue_invoice(client, finance)
        session.execute(sa.update(WebhookDelivery).values(next_attempt_at=clock.now))
        session.flush()
        _deliver(app, clock, timeout=0.5)
        assert (
            client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=finance).status_code
            == 204
        )
        clock.advance(timedelta(hours=1))
        assert _deliver(app, clock, timeout=0.5).outcomes == []
        assert len(receiver.requests) == 1
    assert client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=finance).status_code == 404
    assert (
        client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=finance
        ).status_code
        == 404
    )
    assert webhook_outbox_depth(session) == 0


def test_unreachable_receiver_is_retried(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    clock = Clock()
    with WebhookReceiver() as receiver:
        url = receiver.url
    register_endpoint(client, finance, url, ["invoice.issued"])  # nobody listens there now
    issue_invoice(client, finance)
    session.execute(sa.update(WebhookDelivery).values(next_attempt_at=clock.now))
    session.flush()
    summary = _deliver(app, clock, timeout=0.5)
    assert summary.retried == 1 and summary.outcomes[0][1] is None
    assert webhook_outbox_depth(session) == 1
