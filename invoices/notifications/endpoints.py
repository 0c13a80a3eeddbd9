"""Webhook endpoints: register (the secret is shown once), list, read, delete; deliveries log."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.notifications.events import EVENT_TYPES
from invoices.notifications.models import (
    NotificationEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from ledger.base import utcnow
from ledger.errors import NotFound
from ledger.validation import Input

MAX_URL_LENGTH = 2000


def check_url(value: str) -> str:
    """Only http(s) URLs with a host, no credentials in them, no fragments."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError("a webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("a webhook URL must name a host")
    if parts.username or parts.password:
        raise ValueError("a webhook URL must not carry credentials")
    if parts.fragment:
        raise ValueError("a webhook URL must not have a #fragment")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("a webhook URL must not contain spaces or control characters")
    return value


class WebhookEndpointCreate(Input):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}: one of {', '.join(EVENT_TYPES)}")
        if len(set(value)) != len(value):
            raise ValueError("event types must be distinct")
        return sorted(value)


class WebhookEndpointRead(BaseModel):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = Field(
        default=None, description="only in the answer to the POST that created the endpoint"
    )


class WebhookDeliveryRead(BaseModel):
    id: int
    event_id: str
    event_type: str
    state: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[dict[str, object]]


def create_endpoint(session: Session, data: WebhookEndpointCreate) -> tuple[WebhookEndpoint, str]:
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint(url=data.url, events=data.events, secret=secret)
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


def list_endpoints(
    session: Session, *, after_id: int | None, limit: int
) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(col(WebhookEndpoint.deleted_at).is_(None))
    if after_id is not None:
        query = query.where(col(WebhookEndpoint.id) > after_id)
    return session.scalars(query.order_by(col(WebhookEndpoint.id)).limit(limit)).all()


def delete_endpoint(session: Session, endpoint_id: int) -> None:
    """The endpoint gets nothing more: its waiting deliveries are cancelled with it."""
    endpoint = get_endpoint(session, endpoint_id)
    now = utcnow()
    endpoint.deleted_at = now
    session.execute(
        sa.update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint_id,
            col(WebhookDelivery.state) == "pending",
        )
        .values(state="cancelled", next_attempt_at=None, updated_at=now)
    )
    session.flush()


def to_read(endpoint: WebhookEndpoint, *, secret: str | None = None) -> WebhookEndpointRead:
    assert endpoint.id is not None
    return WebhookEndpointRead(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        created_at=endpoint.created_at,
        secret=secret,
    )


def list_deliveries(
    session: Session, endpoint_id: int, *, after_id: int | None, limit: int
) -> list[WebhookDeliveryRead]:
    """Newest first is what one looks for; the cursor keeps id order for stable pages."""
    get_endpoint(session, endpoint_id)
    query = (
        select(WebhookDelivery, NotificationEvent)
        .join(NotificationEvent, col(NotificationEvent.id) == col(WebhookDelivery.event_id))
        .where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    )
    if after_id is not None:
        query = query.where(col(WebhookDelivery.id) > after_id)
    rows = session.execute(query.order_by(col(WebhookDelivery.id)).limit(limit)).all()
    ids = [delivery.id for delivery, _ in rows]
    attempts: dict[int, list[dict[str, object]]] = {}
    if ids:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(ids))
            .order_by(col(WebhookAttempt.id))
        ):
            attempts.setdefault(attempt.delivery_id, []).append(
                {
                    "attempt": attempt.attempt,
                    "attempted_at": attempt.attempted_at.isoformat(),
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "succeeded": attempt.succeeded,
                    "duration_ms": attempt.duration_ms,
                }
            )
    return [
        WebhookDeliveryRead(
            id=delivery.id or 0,
            event_id=event.public_id,
            event_type=event.type,
            state=delivery.state,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            attempt_log=attempts.get(delivery.id or 0, []),
        )
        for delivery, event in rows
    ]
