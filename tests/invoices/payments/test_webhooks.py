"""`POST /v1/stripe/webhook`: signed events from Stripe, each applied once.

The events carry real PaymentIntents made on localstripe; the signature is made here the way
Stripe makes it (`t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<payload>")>`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import select

from app.settings import Settings
from invoices.issuing import void_invoice
from invoices.models import Invoice
from invoices.payments import CardDeclined, StripeGateway
from invoices.payments.collection import collect_pending
from invoices.payments.stripe_events import StripeEvent
from ledger.base import utcnow
from tests.invoices.payments.helpers import (
    API_KEY,
    DECLINED_ON_CHARGE,
    ISSUER,
    JANUARY_TOTAL_MINOR,
    VISA,
    WEBHOOK_SECRET,
    PaymentState,
    bill_january,
    create_card,
    event_payload,
    intents_for_invoice,
    make_gateway,
    make_stripe_client,
    read_payment_state,
    signed,
)
from tests.support.localstripe_server import localstripe_url  # noqa: F401

WEBHOOK = "/v1/stripe/webhook"


@pytest.fixture
def settings(localstripe_url: str) -> Settings:  # noqa: F811
    return Settings(
        database_url="unused-in-tests",
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture
def gateway(localstripe_url: str) -> StripeGateway:  # noqa: F811
    return make_gateway(localstripe_url)


@pytest.fixture
def stripe_client(localstripe_url: str) -> stripe.StripeClient:  # noqa: F811
    return make_stripe_client(localstripe_url)


class Charged:
    """An issued invoice whose customer has a card, and a PaymentIntent Stripe made for it
    (as if a collector charged it and died before recording: only a webhook can tell us)."""

    def __init__(self, invoice: Invoice, stripe_customer: str, intent: stripe.PaymentIntent):
        assert invoice.id is not None
        self.invoice_id = invoice.id
        self.stripe_customer = stripe_customer
        self.intent = intent

    def event(self, event_type: str, **changes: Any) -> bytes:
        return event_payload(event_type, {**self.intent.to_dict(), **changes})


def charge_behind_our_back(
    client: TestClient,
    finance: dict[str, str],
    session: Session,
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    card: str,
) -> Charged:
    invoice = bill_january(session)
    session.flush()
    saved = client.post(
        f"/v1/customers/{invoice.customer_id}/payment-method",
        json={"payment_method_id": create_card(stripe_client, card)},
        headers=finance,
    )
    assert saved.status_code == 200, saved.text
    stripe_customer = saved.json()["stripe_customer_id"]
    with contextlib.suppress(CardDeclined):  # a declined PaymentIntent is what we want then
        gateway.charge(
            customer_id=stripe_customer,
            payment_method_id=None,
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            invoice_number=str(invoice.number),
            invoice_id=str(invoice.id),
            idempotency_key=f"hourglass-invoice-{invoice.id}",
        )
    [intent] = intents_for_invoice(stripe_client, stripe_customer, int(str(invoice.id)))
    return Charged(invoice, stripe_customer, intent)


@pytest.fixture
def charged(
    client: TestClient,
    finance: dict[str, str],
    session: Session,
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
) -> Charged:
    return charge_behind_our_back(client, finance, session, gateway, stripe_client, VISA)


@pytest.fixture
def declined(
    client: TestClient,
    finance: dict[str, str],
    session: Session,
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
) -> Charged:
    return charge_behind_our_back(
        client, finance, session, gateway, stripe_client, DECLINED_ON_CHARGE
    )


def deliver(client: TestClient, payload: bytes, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = signed(payload) if signature is None else signature
    return client.post(WEBHOOK, content=payload, headers=headers)


def state(session: Session, charged: Charged) -> PaymentState:
    return read_payment_state(session, charged.invoice_id)


def events(session: Session) -> list[StripeEvent]:
    return list(session.scalars(select(StripeEvent).execution_options(populate_existing=True)))


def test_payment_intent_succeeded_marks_the_invoice_paid(
    client: TestClient, session: Session, charged: Charged, gateway: StripeGateway, app: Any
) -> None:
    assert charged.intent.status == "succeeded"

    response = deliver(client, charged.event("payment_intent.succeeded"))

    assert response.status_code == 200, response.text
    assert response.json()["duplicate"] is False
    assert response.json()["outcome"] == "invoice paid"
    paid = state(session, charged)
    assert (paid.status, paid.payment_status, paid.paid, paid.outbox_state) == (
        "paid",
        "succeeded",
        True,
        "succeeded",
    )
    assert paid.payment_intent_id == charged.intent.id
    # The collector has nothing left to do for it.
    summary = collect_pending(app.state.session_factory, gateway, now=utcnow(), limit=10)
    assert [r.invoice_id for r in summary.results if r.invoice_id == charged.invoice_id] == []


def test_the_same_event_delivered_twice_is_processed_once(
    client: TestClient, session: Session, charged: Charged
) -> None:
    payload = charged.event("payment_intent.succeeded")
    first = deliver(client, payload)
    paid_at = session.get(Invoice, charged.invoice_id, populate_existing=True)
    assert paid_at is not None and paid_at.paid_at is not None
    first_paid_at = paid_at.paid_at

    again = deliver(client, payload)

    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    assert [e.event_id for e in events(session)] == [first.json()["event_id"]]
    invoice = session.get(Invoice, charged.invoice_id, populate_existing=True)
    assert invoice is not None and invoice.paid_at == first_paid_at


def test_a_forged_signature_is_400_and_changes_nothing(
    client: TestClient, session: Session, charged: Charged
) -> None:
    payload = charged.event("payment_intent.succeeded")

    forged = deliver(client, payload, signed(payload, secret="whsec_someone_else"))
    tampered = deliver(client, payload.replace(b'"succeeded"', b'"succeeded" '), signed(payload))
    unsigned = client.post(WEBHOOK, content=payload, headers={"Content-Type": "application/json"})

    for response in (forged, tampered, unsigned):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "signature" in response.json()["detail"]
    assert state(session, charged).status == "issued"
    assert events(session) == []


def test_a_stale_timestamp_is_400(client: TestClient, session: Session, charged: Charged) -> None:
    payload = charged.event("payment_intent.succeeded")

    response = deliver(client, payload, signed(payload, at=int(time.time()) - 600))

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert state(session, charged).status == "issued"


def test_a_timestamp_in_the_future_is_400(
    client: TestClient, session: Session, charged: Charged
) -> None:
    """stripe-python checks only the past side of the tolerance; SPEC wants both."""
    payload = charged.event("payment_intent.succeeded")

    response = deliver(client, payload, signed(payload, at=int(time.time()) + 600))

    assert response.status_code == 400, response.text
    assert "future" in response.json()["detail"]
    assert state(session, charged).status == "issued"
    assert events(session) == []
    # Within the tolerance (a clock a little ahead) it is accepted.
    ahead = deliver(client, payload, signed(payload, at=int(time.time()) + 120))
    assert ahead.status_code == 200, ahead.text
    assert state(session, charged).status == "paid"


def test_an_invoice_id_that_is_not_plain_digits_is_no_invoice_of_ours(
    client: TestClient, session: Session, charged: Charged
) -> None:
    for raw in ("²", "٣", "１", "99999999999999999999", "2147483648", "-1", " 1", "0", 1):
        metadata = {**charged.intent.to_dict()["metadata"], "invoice_id": raw}
        response = deliver(
            client, charged.event("payment_intent.succeeded", metadata=metadata, id="pi_unknown")
        )
        assert response.status_code == 200, (raw, response.text)
        assert response.json()["outcome"].startswith("ignored: no invoice"), raw
    assert state(session, charged).status == "issued"


def test_a_signed_body_that_is_not_an_event_is_400(client: TestClient) -> None:
    for payload in (b"not json", b'{"id": "evt_1"}', b'["payment_intent.succeeded"]'):
        assert deliver(client, payload).status_code == 400


def test_unknown_event_types_are_acknowledged_and_ignored(
    client: TestClient, session: Session, charged: Charged
) -> None:
    response = deliver(client, charged.event("customer.subscription.created"))

    assert response.status_code == 200, response.text
    assert response.json()["outcome"].startswith("ignored")
    assert state(session, charged).payment_status == "none"


def test_payment_failed_records_the_failure_and_a_new_card_is_collected_next(
    client: TestClient,
    finance: dict[str, str],
    session: Session,
    declined: Charged,
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    app: Any,
) -> None:
    assert declined.intent.status == "requires_payment_method"

    response = deliver(client, declined.event("payment_intent.payment_failed"))

    assert response.status_code == 200, response.text
    failed = state(session, declined)
    assert (failed.status, failed.payment_status, failed.message) == (
        "issued",
        "failed",
        "Your card was declined.",
    )
    read = client.get(f"/v1/invoices/{declined.invoice_id}", headers=finance).json()
    assert (read["payment_status"], read["payment_failure_message"]) == (
        "failed",
        "Your card was declined.",
    )
    customer_id = read["customer_id"]
    client.post(
        f"/v1/customers/{customer_id}/payment-method",
        json={"payment_method_id": create_card(stripe_client)},
        headers=finance,
    )
    collect_pending(app.state.session_factory, gateway, now=utcnow(), limit=10)
    assert state(session, declined).status == "paid"
    intents = intents_for_invoice(stripe_client, declined.stripe_customer, declined.invoice_id)
    assert sorted(i.status for i in intents) == ["requires_payment_method", "succeeded"]


def test_a_late_failure_never_undoes_a_payment(
    client: TestClient, session: Session, charged: Charged
) -> None:
    deliver(client, charged.event("payment_intent.succeeded"))

    response = deliver(
        client,
        charged.event(
            "payment_intent.payment_failed",
            last_payment_error={"message": "Your card was declined."},
        ),
    )

    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored")
    paid = state(session, charged)
    assert (paid.status, paid.payment_status, paid.message) == ("paid", "succeeded", None)


def test_an_event_for_no_invoice_of_ours_is_acknowledged_and_ignored(
    client: TestClient, session: Session, charged: Charged
) -> None:
    metadata = {**charged.intent.to_dict()["metadata"], "invoice_id": "987654"}
    other_number = {**charged.intent.to_dict()["metadata"], "invoice_number": "1999-000001"}

    for changed in (metadata, other_number, {}):
        response = deliver(
            client, charged.event("payment_intent.succeeded", metadata=changed, id="pi_unknown")
        )
        assert response.status_code == 200, response.text
        assert response.json()["outcome"].startswith("ignored: no invoice")
    assert state(session, charged).status == "issued"


def test_a_success_for_another_amount_is_ignored(
    client: TestClient, session: Session, charged: Charged
) -> None:
    response = deliver(
        client, charged.event("payment_intent.succeeded", amount=JANUARY_TOTAL_MINOR - 1)
    )

    assert response.status_code == 200
    assert "does not match" in response.json()["outcome"]
    assert state(session, charged).status == "issued"


def test_a_payment_for_a_voided_invoice_keeps_it_void_and_says_a_refund_is_due(
    client: TestClient, session: Session, charged: Charged
) -> None:
    void_invoice(session, charged.invoice_id, issuer=ISSUER, reason="duplicate")
    session.flush()

    response = deliver(client, charged.event("payment_intent.succeeded"))

    assert response.status_code == 200
    voided = state(session, charged)
    assert (voided.status, voided.payment_status) == ("void", "succeeded")
    assert voided.message is not None and "refund due" in voided.message
    assert voided.outbox_state == "succeeded"  # collected: the collector will not try again


def test_without_a_webhook_secret_the_webhook_is_503(
    client: TestClient,
    app: Any,
    localstripe_url: str,  # noqa: F811
) -> None:
    app.state.settings = Settings(
        database_url="unused-in-tests", stripe_api_key=API_KEY, stripe_api_base=localstripe_url
    )
    payload = event_payload("payment_intent.succeeded", {"id": "pi_x"})

    response = deliver(client, payload)

    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "HOURGLASS_STRIPE_WEBHOOK_SECRET" in response.json()["detail"]
