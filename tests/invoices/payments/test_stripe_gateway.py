"""The Stripe gateway against a real localstripe server: no mock of Stripe anywhere.

The session's localstripe is shared, so every test makes its own customer (unique email) and
looks only at that customer's objects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import stripe

from invoices.payments import (
    CardDeclined,
    ChargeResult,
    IdempotencyConflict,
    InvalidWebhook,
    PaymentMethodMissing,
    StripeConfig,
    StripeGateway,
    StripeUnreachable,
)
from tests.support.localstripe_server import free_loopback_port, localstripe_url  # noqa: F401

API_KEY = "sk_test_hourglass"
WEBHOOK_SECRET = "whsec_test_hourglass"
VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches fine, every charge is declined
DECLINED_ON_ATTACH = "4000000000000002"
NEEDS_3DS = "4000002500003155"


@pytest.fixture
def config(localstripe_url: str) -> StripeConfig:  # noqa: F811
    return StripeConfig(api_key=API_KEY, api_base=localstripe_url, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def gateway(config: StripeConfig) -> StripeGateway:
    return StripeGateway(config)


@pytest.fixture
def stripe_client(localstripe_url: str) -> stripe.StripeClient:  # noqa: F811
    """Plays the browser (making PaymentMethods) and the auditor (reading what Stripe holds)."""
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0
    )


def create_customer(gateway: StripeGateway, **overrides: str) -> str:
    hourglass_id = overrides.pop("hourglass_customer_id", str(uuid.uuid4()))
    fields = {"name": "Acme GmbH", "email": f"billing+{hourglass_id}@acme.test", **overrides}
    return gateway.ensure_customer(
        name=fields["name"],
        email=fields["email"],
        existing_id=None,
        metadata={"hourglass_customer_id": hourglass_id},
    )


def create_card(stripe_client: stripe.StripeClient, number: str = VISA) -> str:
    """A card PaymentMethod, as Stripe.js would make it in the customer's browser."""
    method = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return method.id


def customer_with_card(
    gateway: StripeGateway, stripe_client: stripe.StripeClient, number: str = VISA
) -> tuple[str, str]:
    customer_id = create_customer(gateway)
    method_id = gateway.attach_default_payment_method(
        customer_id, create_card(stripe_client, number)
    )
    return customer_id, method_id


def intents_of(stripe_client: stripe.StripeClient, customer_id: str) -> list[stripe.PaymentIntent]:
    # localstripe cannot filter PaymentIntents by customer, so filter here.
    listed = stripe_client.v1.payment_intents.list(params={"limit": 100})
    return [intent for intent in listed.auto_paging_iter() if intent.customer == customer_id]


def charges_of(stripe_client: stripe.StripeClient, customer_id: str) -> list[stripe.Charge]:
    listed = stripe_client.v1.charges.list(params={"customer": customer_id, "limit": 100})
    return list(listed.auto_paging_iter())


def charge_invoice(
    gateway: StripeGateway,
    customer_id: str,
    *,
    payment_method_id: str | None = None,
    amount_minor: int = 202_000,
    invoice_id: str = "inv-2026-01-c1",
    idempotency_key: str = "charge:inv-2026-01-c1:1",
) -> ChargeResult:
    return gateway.charge(
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        amount_minor=amount_minor,
        currency="EUR",
        invoice_number="HG-2026-0001",
        invoice_id=invoice_id,
        idempotency_key=idempotency_key,
    )


# Customers and payment methods


def test_ensure_customer_creates_the_customer_once(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    hourglass_id = str(uuid.uuid4())
    email = f"ops+{hourglass_id}@example.test"
    metadata = {"hourglass_customer_id": hourglass_id}

    created = gateway.ensure_customer(
        name="Example AG", email=email, existing_id=None, metadata=metadata
    )
    with_stored_id = gateway.ensure_customer(
        name="Example AG", email=email, existing_id=created, metadata=metadata
    )
    # A crash after creating but before storing the id: found again, not created twice.
    after_crash = gateway.ensure_customer(
        name="Example AG", email=email, existing_id=None, metadata=metadata
    )

    assert created.startswith("cus_")
    assert with_stored_id == created
    assert after_crash == created
    customers = stripe_client.v1.customers.list(params={"email": email}).data
    assert [c.id for c in customers] == [created]
    assert customers[0].name == "Example AG"
    assert customers[0].metadata is not None
    assert customers[0].metadata.to_dict() == metadata


def test_ensure_customer_replaces_an_id_stripe_does_not_know(gateway: StripeGateway) -> None:
    customer_id = gateway.ensure_customer(
        name="Gone Ltd",
        email=f"gone+{uuid.uuid4()}@example.test",
        existing_id="cus_NotInThisAccount",
        metadata={"hourglass_customer_id": str(uuid.uuid4())},
    )

    assert customer_id.startswith("cus_")
    assert customer_id != "cus_NotInThisAccount"


def test_attach_makes_the_card_the_default_payment_method(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id = create_customer(gateway)
    card_id = create_card(stripe_client)

    attached_id = gateway.attach_default_payment_method(customer_id, card_id)

    assert attached_id == card_id
    customer = stripe_client.v1.customers.retrieve(customer_id)
    assert customer.invoice_settings is not None
    assert customer.invoice_settings.default_payment_method == card_id
    assert stripe_client.v1.payment_methods.retrieve(card_id).customer == customer_id


def test_attach_returns_the_new_id_of_a_test_token(gateway: StripeGateway) -> None:
    customer_id = create_customer(gateway)

    attached_id = gateway.attach_default_payment_method(customer_id, "pm_card_visa")

    assert attached_id.startswith("pm_")
    assert attached_id != "pm_card_visa"


def test_attaching_an_unknown_payment_method_is_payment_method_missing(
    gateway: StripeGateway,
) -> None:
    customer_id = create_customer(gateway)

    with pytest.raises(PaymentMethodMissing):
        gateway.attach_default_payment_method(customer_id, "pm_DoesNotExist123")


def test_a_card_declined_on_attach_is_card_declined(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id = create_customer(gateway)

    with pytest.raises(CardDeclined) as declined:
        gateway.attach_default_payment_method(
            customer_id, create_card(stripe_client, DECLINED_ON_ATTACH)
        )

    assert declined.value.code == "card_declined"
    assert declined.value.payment_intent_id is None


# Charges


def test_charge_succeeds_with_amount_currency_and_invoice_metadata(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, card_id = customer_with_card(gateway, stripe_client)

    result = gateway.charge(
        customer_id=customer_id,
        payment_method_id=card_id,
        amount_minor=202_000,
        currency="EUR",
        invoice_number="HG-2026-0001",
        invoice_id="inv-2026-01-c1",
        idempotency_key="charge:inv-2026-01-c1:1",
    )

    assert result.status == "succeeded"
    assert result.amount_minor == 202_000
    assert result.currency == "EUR"
    assert result.failure_message is None
    intent = stripe_client.v1.payment_intents.retrieve(result.payment_intent_id)
    assert intent.customer == customer_id
    assert intent.payment_method == card_id
    assert intent.amount == 202_000
    assert intent.currency == "eur"
    assert intent.metadata.to_dict() == {
        "invoice_number": "HG-2026-0001",
        "invoice_id": "inv-2026-01-c1",
        "idempotency_key": "charge:inv-2026-01-c1:1",
    }
    [charge] = charges_of(stripe_client, customer_id)
    assert (charge.amount, charge.status, charge.payment_intent) == (
        202_000,
        "succeeded",
        result.payment_intent_id,
    )


def test_charge_without_a_method_uses_the_customers_default(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, card_id = customer_with_card(gateway, stripe_client)

    result = charge_invoice(gateway, customer_id, payment_method_id=None)

    assert result.status == "succeeded"
    [intent] = intents_of(stripe_client, customer_id)
    assert intent.id == result.payment_intent_id
    assert intent.payment_method == card_id


def test_declined_card_raises_card_declined_with_the_payment_intent(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, _ = customer_with_card(gateway, stripe_client, DECLINED_ON_CHARGE)

    with pytest.raises(CardDeclined) as declined:
        charge_invoice(gateway, customer_id)

    assert declined.value.message == "Your card was declined."
    assert declined.value.code == "card_declined"
    [intent] = intents_of(stripe_client, customer_id)
    assert declined.value.payment_intent_id == intent.id
    assert intent.status == "requires_payment_method"
    assert [charge.status for charge in charges_of(stripe_client, customer_id)] == ["failed"]


def test_replaying_a_declined_charge_declines_again_without_a_new_attempt(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, _ = customer_with_card(gateway, stripe_client, DECLINED_ON_CHARGE)
    with pytest.raises(CardDeclined) as first:
        charge_invoice(gateway, customer_id)

    with pytest.raises(CardDeclined) as replay:
        charge_invoice(gateway, customer_id)

    assert replay.value.payment_intent_id == first.value.payment_intent_id
    assert replay.value.code == "card_declined"
    assert len(intents_of(stripe_client, customer_id)) == 1
    assert len(charges_of(stripe_client, customer_id)) == 1


def test_after_a_decline_a_new_key_and_a_new_card_collect_the_invoice(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, _ = customer_with_card(gateway, stripe_client, DECLINED_ON_CHARGE)
    with pytest.raises(CardDeclined):
        charge_invoice(gateway, customer_id, idempotency_key="charge:inv-2026-01-c1:1")
    gateway.attach_default_payment_method(customer_id, create_card(stripe_client))

    result = charge_invoice(gateway, customer_id, idempotency_key="charge:inv-2026-01-c1:2")

    assert result.status == "succeeded"
    assert sorted(c.status for c in charges_of(stripe_client, customer_id)) == [
        "failed",
        "succeeded",
    ]


def test_a_card_that_wants_3d_secure_comes_back_requiring_action(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    """localstripe's answer; real Stripe declines it off-session (`authentication_required`)."""
    customer_id, _ = customer_with_card(gateway, stripe_client, NEEDS_3DS)

    result = charge_invoice(gateway, customer_id)

    assert result.status == "requires_action"
    assert charges_of(stripe_client, customer_id) == []


def test_customer_without_payment_method_is_payment_method_missing(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id = create_customer(gateway)

    with pytest.raises(PaymentMethodMissing):
        charge_invoice(gateway, customer_id, payment_method_id=None)

    assert intents_of(stripe_client, customer_id) == []


def test_unknown_or_foreign_payment_method_is_payment_method_missing(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, _ = customer_with_card(gateway, stripe_client)
    _, someone_elses_card = customer_with_card(gateway, stripe_client)

    with pytest.raises(PaymentMethodMissing):
        charge_invoice(gateway, customer_id, payment_method_id="pm_DoesNotExist123")
    with pytest.raises(PaymentMethodMissing):
        charge_invoice(gateway, customer_id, payment_method_id=someone_elses_card)

    assert intents_of(stripe_client, customer_id) == []


# Idempotency


def test_localstripe_itself_ignores_idempotency_keys(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    """Why the gateway looks before it creates: this fake charges twice under one key."""
    customer_id, card_id = customer_with_card(gateway, stripe_client)
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 500,
        "currency": "eur",
        "customer": customer_id,
        "payment_method": card_id,
        "confirm": True,
        "off_session": True,
    }

    first = stripe_client.v1.payment_intents.create(params, {"idempotency_key": "same"})
    second = stripe_client.v1.payment_intents.create(params, {"idempotency_key": "same"})

    assert first.id != second.id
    assert len(charges_of(stripe_client, customer_id)) == 2


def test_same_idempotency_key_gives_the_same_payment_intent_and_one_charge(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, card_id = customer_with_card(gateway, stripe_client)

    first = charge_invoice(gateway, customer_id, payment_method_id=card_id)
    second = charge_invoice(gateway, customer_id, payment_method_id=card_id)

    assert second == first
    assert len(intents_of(stripe_client, customer_id)) == 1
    assert len(charges_of(stripe_client, customer_id)) == 1


def test_a_paid_invoice_is_never_charged_again_even_under_a_new_key(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, _ = customer_with_card(gateway, stripe_client)
    first = charge_invoice(gateway, customer_id, idempotency_key="charge:inv-2026-01-c1:1")

    again = charge_invoice(gateway, customer_id, idempotency_key="charge:inv-2026-01-c1:2")
    other_invoice = charge_invoice(
        gateway, customer_id, invoice_id="inv-2026-02-c1", idempotency_key="charge:inv-2026-02-c1:1"
    )

    assert again == first
    assert other_invoice != first
    assert len(charges_of(stripe_client, customer_id)) == 2


def test_same_key_with_another_amount_is_an_idempotency_conflict(
    gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    customer_id, _ = customer_with_card(gateway, stripe_client, DECLINED_ON_CHARGE)
    with pytest.raises(CardDeclined):
        charge_invoice(gateway, customer_id, amount_minor=1_000)

    with pytest.raises(IdempotencyConflict):
        charge_invoice(gateway, customer_id, amount_minor=2_000)


# Stripe unreachable


def test_closed_port_is_stripe_unreachable_at_once() -> None:
    gateway = StripeGateway(
        StripeConfig(
            api_key=API_KEY,
            api_base=f"http://127.0.0.1:{free_loopback_port()}",
            webhook_secret=None,
        )
    )
    started = time.monotonic()

    with pytest.raises(StripeUnreachable):
        gateway.ensure_customer(name="A", email="a@example.test", existing_id=None, metadata={})
    with pytest.raises(StripeUnreachable):
        charge_invoice(gateway, "cus_Whatever")

    assert time.monotonic() - started < 3


def test_a_server_that_never_answers_is_stripe_unreachable_after_the_read_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        gateway = StripeGateway(
            StripeConfig(
                api_key=API_KEY,
                api_base=f"http://127.0.0.1:{silent.getsockname()[1]}",
                webhook_secret=None,
                read_timeout_seconds=0.5,
            )
        )
        started = time.monotonic()

        with pytest.raises(StripeUnreachable):
            charge_invoice(gateway, "cus_Whatever")

        assert time.monotonic() - started < 3  # one attempt: no hidden retries


@pytest.fixture
def failing_stripe() -> Iterator[str]:
    """A server answering every request with Stripe's 500 error body."""

    class Failing(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            body = json.dumps({"error": {"type": "api_error", "message": "Stripe broke"}})
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        do_GET = do_POST = _fail

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stripe_5xx_is_stripe_unreachable(failing_stripe: str) -> None:
    gateway = StripeGateway(
        StripeConfig(api_key=API_KEY, api_base=failing_stripe, webhook_secret=None)
    )

    with pytest.raises(StripeUnreachable, match="Stripe broke"):
        charge_invoice(gateway, "cus_Whatever")


# Webhooks


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Stripe's scheme, written out: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


EVENT = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 202000}},
    }
).encode()


def test_a_correctly_signed_webhook_verifies_to_a_plain_event(gateway: StripeGateway) -> None:
    event = gateway.verify_webhook(EVENT, sign(EVENT))

    assert type(event) is dict
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["id"] == "pi_1"


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(sign(EVENT, secret="whsec_someone_else"), id="wrong secret"),
        pytest.param(sign(EVENT.replace(b"202000", b"1")), id="signature of another body"),
        pytest.param("", id="no header"),
        pytest.param("not a signature", id="garbage"),
    ],
)
def test_a_forged_webhook_is_invalid(gateway: StripeGateway, header: str) -> None:
    with pytest.raises(InvalidWebhook):
        gateway.verify_webhook(EVENT, header)


def test_a_stale_webhook_is_invalid(gateway: StripeGateway) -> None:
    six_minutes_ago = int(time.time()) - 360  # Stripe's default tolerance is five minutes

    with pytest.raises(InvalidWebhook, match="tolerance"):
        gateway.verify_webhook(EVENT, sign(EVENT, at=six_minutes_ago))


def test_a_signed_body_that_is_not_an_event_is_invalid(gateway: StripeGateway) -> None:
    with pytest.raises(InvalidWebhook):
        gateway.verify_webhook(b"[1, 2]", sign(b"[1, 2]"))


def test_without_a_webhook_secret_no_webhook_is_trusted(localstripe_url: str) -> None:  # noqa: F811
    gateway = StripeGateway(
        StripeConfig(api_key=API_KEY, api_base=localstripe_url, webhook_secret=None)
    )

    with pytest.raises(InvalidWebhook):
        gateway.verify_webhook(EVENT, sign(EVENT))
