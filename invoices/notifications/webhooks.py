"""The webhook deliverer: every due delivery POSTed, signed, outside any transaction.

Like the payment collector (`invoices.payments.collection`), each delivery goes through:

1. `claim_next` (short transaction, `FOR UPDATE SKIP LOCKED`): lease the next due delivery
   (`attempts + 1`, `next_attempt_at` pushed `LEASE` ahead, far beyond the 10-second timeout)
   and read the endpoint's URL and secret and the event's body.
2. `post`: the HTTP call, no transaction open, no redirects followed.
3. `record_attempt` (new transaction): the attempt in the log; a 2xx marks the delivery
   `delivered` (only the lease holder's answer counts, and a delivered row is never due again);
   anything else schedules the next try: 30 s, doubling, at most 6 h apart, for 3 days after the
   event (then `failed`).

The 10-second timeout bounds the whole exchange (connect, send, the complete answer), so a
receiver that drips its answer a byte at a time is cut off too. Any http(s) host is
accepted, loopback and private networks included (the tests need loopback).

So an acknowledged delivery is never repeated. A crash between a 2xx and step 3 repeats it
(the receiver sees the same event `id` again, as with Stripe): unavoidable without the
receiver's help, and what the event id is for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.notifications.models import (
    NotificationEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from ledger.base import unit_of_work, utcnow

log = logging.getLogger("hourglass.notifications")

TIMEOUT_SECONDS = 10.0
LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=6)
RETRY_FOR = timedelta(days=3)
SIGNATURE_HEADER = "Hourglass-Signature"
ERROR_LENGTH = 500


def event_body(event: NotificationEvent) -> bytes:
    """The JSON a receiver gets: `{id, type, created_at, data}` (the same bytes every try)."""
    payload = {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """Stripe's scheme: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 30), LAST_RETRY)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    delivery_id: int
    attempt: int
    url: str
    secret: str
    body: bytes
    event_created_at: datetime


@dataclass(frozen=True, slots=True)
class PostResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class DeliverySummary:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: list[tuple[int, int | None, str | None]] = field(default_factory=list)


def claim_next(factory: sessionmaker[Session], *, now: datetime) -> ClaimedDelivery | None:
    with unit_of_work(factory) as session:
        found = session.execute(
            select(WebhookDelivery, WebhookEndpoint, NotificationEvent)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
            .join(NotificationEvent, col(NotificationEvent.id) == col(WebhookDelivery.event_id))
            .where(
                col(WebhookDelivery.state) == "pending",
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookEndpoint.deleted_at).is_(None),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(1)
            .with_for_update(skip_locked=True, of=WebhookDelivery)  # type: ignore[arg-type]
        ).first()
        if found is None:
            return None
        delivery, endpoint, event = found
        assert delivery.id is not None
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.updated_at = now
        return ClaimedDelivery(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            url=endpoint.url,
            secret=endpoint.secret,
            body=event_body(event),
            event_created_at=event.created_at,
        )


def post(
    claimed: ClaimedDelivery,
    *,
    timeout: float = TIMEOUT_SECONDS,
    clock: Callable[[], datetime] = utcnow,
    transport: httpx.BaseTransport | None = None,
) -> PostResult:
    """The HTTP call. Never raises for what the network or the receiver does."""
    timestamp = int(clock().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Hourglass-Webhooks/1",
        SIGNATURE_HEADER: sign(claimed.secret, claimed.body, timestamp=timestamp),
    }
    started = time.monotonic()
    try:
        response = _post_within(
            claimed.url, claimed.body, headers, timeout=timeout, transport=transport
        )
        status: int | None = response.status_code
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except httpx.TimeoutException:
        status, error = None, f"timed out after {timeout:g} s"
    except httpx.HTTPError as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a surprise must not kill the deliverer: retried like a failure
        log.exception("webhook delivery %s failed unexpectedly", claimed.delivery_id)
        status, error = None, f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)
    return PostResult(status, None if error is None else error[:ERROR_LENGTH], duration_ms)


def _post_within(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    transport: httpx.BaseTransport | None,
) -> httpx.Response:
    """The POST with a deadline for the whole exchange, not just for each phase: it runs in a
    helper thread, and when the deadline passes its connection is closed under it."""
    client = httpx.Client(
        timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["response"] = client.post(url, content=body, headers=headers)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="hourglass-webhook-post", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        client.close()  # the helper's request fails at once and the thread ends
        raise httpx.TimeoutException(f"no complete answer within {timeout:g} s")
    client.close()
    if "error" in outcome:
        raise outcome["error"]
    response: httpx.Response = outcome["response"]
    return response


def record_attempt(
    factory: sessionmaker[Session],
    claimed: ClaimedDelivery,
    result: PostResult,
    *,
    now: datetime,
) -> str:
    """Returns `delivered`, `retry`, `failed` or `stale` (the lease had passed to another)."""
    with unit_of_work(factory) as session:
        delivery = session.scalar(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.id) == claimed.delivery_id)
            .with_for_update()
        )
        assert delivery is not None
        session.add(
            WebhookAttempt(
                delivery_id=claimed.delivery_id,
                attempt=claimed.attempt,
                attempted_at=now,
                status_code=result.status_code,
                error=result.error,
                succeeded=result.acknowledged,
                duration_ms=result.duration_ms,
            )
        )
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.updated_at = now
        if delivery.state != "pending":
            return "stale"
        if result.acknowledged:
            delivery.state = "delivered"
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            return "delivered"
        if delivery.attempts != claimed.attempt:
            return "stale"
        retry_at = now + backoff(delivery.attempts)
        if retry_at > claimed.event_created_at + RETRY_FOR:
            delivery.state = "failed"
            delivery.next_attempt_at = None
            return "failed"
        delivery.next_attempt_at = retry_at
        return "retry"


def deliver_pending(
    factory: sessionmaker[Session],
    *,
    clock: Callable[[], datetime] = utcnow,
    timeout: float = TIMEOUT_SECONDS,
    limit: int = 1000,
    transport: httpx.BaseTransport | None = None,
) -> DeliverySummary:
    """Deliver every due delivery (at most `limit`) one at a time; several deliverers may run."""
    summary = DeliverySummary()
    handled = 0
    while handled < limit:
        claimed = claim_next(factory, now=clock())
        if claimed is None:
            break
        handled += 1
        result = post(claimed, timeout=timeout, clock=clock, transport=transport)
        outcome = record_attempt(factory, claimed, result, now=clock())
        summary.outcomes.append((claimed.delivery_id, result.status_code, result.error))
        if outcome == "delivered":
            summary.delivered += 1
        elif outcome == "failed":
            summary.failed += 1
        else:
            summary.retried += 1
    return summary
