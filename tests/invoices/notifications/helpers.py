"""Shared steps of the notification tests."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.invoices.billing.helpers import (
    Headers,
    Json,
    create_contract,
    create_customer,
    only_invoice,
    post_work,
    run_billing,
)


@dataclass
class Clock:
    """A clock the test moves by hand (for backoff and leases)."""

    now: datetime = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def issue_invoice(client: TestClient, finance: Headers, **customer: Any) -> tuple[int, Json]:
    """A January invoice (fee and 1 h overage) for a new customer; returns (contract, invoice)."""
    customer_row = create_customer(client, finance, **customer)
    contract = create_contract(client, finance, customer=customer_row)
    post_work(client, finance, contract, "2026-01-05", 21 * 60)
    run_billing(client, finance, "2026-01")
    return contract, only_invoice(client, finance, contract, "2026-01")


def register_endpoint(
    client: TestClient, finance: Headers, url: str, events: list[str], *, expect: int = 201
) -> Json:
    response = client.post(
        "/v1/webhook-endpoints", json={"url": url, "events": events}, headers=finance
    )
    assert response.status_code == expect, response.text
    return response.json()


def verify_signature(header: str, body: bytes, secret: str) -> int:
    """Checks `t=…,v1=…` as a receiver would; returns the timestamp."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest()), "bad signature"
    return timestamp
