"""Structured request logs: one JSON object a line (HOURGLASS_LOG_FORMAT=json) or readable
text, `X-Request-Id` taken or made and returned, the SPEC's fields on every request line, and
no token, webhook secret, Stripe key or card number in any line, whoever logs it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.observability.logs import configure_logging, redact
from app.settings import Settings
from tests.invoices.payments.helpers import event_payload, signed

STRIPE_KEY = "sk_test_opsLogCheck0123456789"
WEBHOOK_SECRET = "whsec_opsLogCheckSecret987"
CARD = "4242424242424242"
CLIENT_SECRET = "pi_3Ops123_secret_AbCdEf987"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="unused-in-tests",
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture
def captured() -> Iterator[Any]:
    def capture(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        configure_logging(log_format, stream=stream)
        return stream

    root = logging.getLogger()
    level = root.level
    yield capture
    for handler in [h for h in root.handlers if h.get_name() == "hourglass"]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def _traffic(app: FastAPI, finance: dict[str, str]) -> list[str]:
    """Requests that carry every kind of secret; returns the secrets sent."""
    token = finance["Authorization"].removeprefix("Bearer ")

    @app.get("/boom-for-log-test")
    def boom() -> None:
        raise RuntimeError(f"failed with {token}, {STRIPE_KEY}, card {CARD}, {CLIENT_SECRET}")

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/v1/plans", headers=finance).status_code == 200
    client.get(f"/v1/plans?access_token={token}&api_key={STRIPE_KEY}")
    client.get("/v1/plans", headers={"Authorization": f"Bearer {token}x"})
    payload = event_payload(
        "payment_intent.succeeded", {"id": "pi_x", "client_secret": CLIENT_SECRET}
    )
    client.post(
        "/v1/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": signed(payload, secret=WEBHOOK_SECRET)},
    )
    client.post("/v1/stripe/webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    boom_response = client.get("/boom-for-log-test", headers={"X-Request-Id": "boom-1"})
    assert boom_response.status_code == 500
    assert boom_response.headers["x-request-id"] == "boom-1"
    # A library that logs what it should not: the redaction is the last step of every line.
    logging.getLogger("stripe").warning(
        "request to Stripe with Authorization: Bearer %s card=%s", STRIPE_KEY, CARD
    )
    signature = signed(payload, secret=WEBHOOK_SECRET).split("v1=")[1]
    return [token, STRIPE_KEY, WEBHOOK_SECRET, CARD, CLIENT_SECRET, signature]


def test_no_secret_reaches_a_json_line(
    app: FastAPI, finance: dict[str, str], captured: Any
) -> None:
    stream = captured("json")
    secrets = _traffic(app, finance)
    output = stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines, "nothing was logged"
    for secret in secrets:
        assert secret not in output
    requests = [line for line in lines if line["logger"] == "hourglass.http"]
    assert len(requests) == 6
    for line in requests:
        assert {"request_id", "method", "path", "status", "duration_ms", "level"} <= set(line)
        assert "?" not in line["path"]
    assert [line["status"] for line in requests][-1] == 500
    assert requests[-1]["level"] == "error"
    errors = [line for line in lines if line["logger"] == "hourglass"]
    assert errors and "[redacted]" in errors[0]["exception"]
    assert errors[0]["request_id"] == requests[-1]["request_id"]


def test_no_secret_reaches_a_text_line(
    app: FastAPI, finance: dict[str, str], captured: Any
) -> None:
    stream = captured("text")
    secrets = _traffic(app, finance)
    output = stream.getvalue()
    for secret in secrets:
        assert secret not in output
    assert "GET /v1/plans 200" in output and "request_id=" in output


def test_request_id_is_taken_or_made_and_returned(client: TestClient, captured: Any) -> None:
    stream = captured("json")
    given = client.get("/health", headers={"X-Request-Id": "proxy-abc.123"})
    assert given.headers["x-request-id"] == "proxy-abc.123"
    made = client.get("/health")
    insane = client.get("/health", headers={"X-Request-Id": "bad id\twith spaces"})
    assert len(made.headers["x-request-id"]) == 32
    assert insane.headers["x-request-id"] not in (
        "bad id\twith spaces",
        made.headers["x-request-id"],
    )
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ids = [line["request_id"] for line in lines if line["logger"] == "hourglass.http"]
    assert ids == ["proxy-abc.123", made.headers["x-request-id"], insane.headers["x-request-id"]]


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer hg_abcdefghijklmnop",
        "key sk_live_ABCDEF123456",
        "secret whsec_abc123",
        "card 4242 4242 4242 4242 ok",
        "t=1733000000,v1=" + "ab" * 32,
        '{"client_secret": "pi_1_secret_2"}',
        "password=hunter2&x=1",
    ],
)
def test_redact(text: str) -> None:
    scrubbed = redact(text)
    assert "[redacted]" in scrubbed
    for secret in (
        "hg_abcdefghijklmnop",
        "sk_live",
        "whsec_abc",
        "4242 4242",
        "abab",
        "pi_1",
        "hunter2",
    ):
        assert secret not in scrubbed


_FRAGMENTS = [
    "Bearer ",
    "bearer\t",
    "hg_",
    "sk_test_",
    "rk_live_",
    "whsec_",
    "pi_",
    "_secret_",
    "seti_",
    "t=17,",
    "v1=",
    "V1=",
    "TOKEN",
    "Secret",
    "password",
    "api_key",
    "Authorization",
    ": ",
    "=",
    '"',
    "'",
    " ",
    "-",
    "4242",
    "0",
    "9",
    "abcdef",
    "ABC",
    "/v1/contracts/12/balance",
    "é",
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=14).map("".join))
@hypothesis_settings(max_examples=400, deadline=None)
def test_the_quick_check_finds_every_line_a_pattern_would_change(text: str) -> None:
    """`redact` skips its substitutions when the one combined search finds nothing: it must
    find something whenever any single pattern would (and then redact as before)."""
    from app.observability.logs import _ANY_SECRET, _SECRETS

    assert bool(_ANY_SECRET.search(text)) == any(p.search(text) for p in _SECRETS), text
