"""Paying an invoice by card from the portal: `POST /v1/invoices/{id}/payment-intent` and
`.../payment-intent/confirm`, against localstripe, on the invoice's one PaymentIntent."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, session_factory
from app.settings import Settings
from invoices.payments import StripeGateway, collection
from invoices.payments.card_payments import (
    InvoiceNotPayable,
    PaymentInProgress,
    start_card_payment,
)
from invoices.payments.customers import save_default_payment_method
from invoices.payments.models import PaymentOutbox
from ledger.base import utcnow
from ledger.customers.models import Customer
from tests.invoices.payments.helpers import (
    API_KEY,
    DECLINED_ON_ATTACH,
    DECLINED_ON_CHARGE,
    PUBLISHABLE_KEY,
    VISA,
    WEBHOOK_SECRET,
    attach_card,
    bill_january,
    browser_sets_up_card,
    event_payload,
    intents_for_invoice,
    issue_invoice,
    make_gateway,
    make_stripe_client,
    payment_state,
    read_payment_state,
    signed,
    succeeded_charges,
)
from tests.support.localstripe_server import localstripe_url  # noqa: F401

NEEDS_AUTHENTICATION = "4000002500003155"


@pytest.fixture
def settings(localstripe_url: str) -> Settings:  # noqa: F811
    return Settings(
        database_url="unused-in-tests",
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_publishable_key=PUBLISHABLE_KEY,
    )


@pytest.fixture
def stripe_client(localstripe_url: str) -> stripe.StripeClient:  # noqa: F811
    return make_stripe_client(localstripe_url)


def start(client: TestClient, headers: dict[str, str], invoice_id: int) -> Any:
    return client.post(f"/v1/invoices/{invoice_id}/payment-intent", headers=headers)


def confirm(client: TestClient, headers: dict[str, str], invoice_id: int, setup_id: str) -> Any:
    return client.post(
        f"/v1/invoices/{invoice_id}/payment-intent/confirm",
        json={"setup_intent_id": setup_id},
        headers=headers,
    )


def stripe_customer_of(session: Session, customer_id: int) -> str:
    customer = session.get(Customer, customer_id, populate_existing=True)
    assert customer is not None and customer.stripe_customer_id is not None
    return customer.stripe_customer_id


def test_the_customer_pays_by_card_on_the_invoice_s_one_payment_intent(
    client: TestClient,
    session: Session,
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
    localstripe_url: str,  # noqa: F811
    app: Any,
) -> None:
    invoice = bill_january(session)
    assert invoice.id is not None
    mine = customer_headers(invoice.customer_id)

    first = start(client, mine, invoice.id)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["publishable_key"] == PUBLISHABLE_KEY
    assert body["amount"] == "1800.00" and body["currency"] == "EUR"
    assert body["client_secret"].startswith(body["payment_intent_id"] + "_secret_")
    assert body["status"] == "requires_payment_method"
    again = start(client, mine, invoice.id).json()
    assert again["payment_intent_id"] == body["payment_intent_id"]  # the same one on a retry

    setup_id = browser_sets_up_card(localstripe_url, again["setup_intent_client_secret"])
    paid = confirm(client, mine, invoice.id, setup_id)

    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "succeeded"
    assert paid.json()["invoice_status"] == "paid"
    stripe_customer = stripe_customer_of(session, invoice.customer_id)
    [intent] = intents_for_invoice(stripe_client, stripe_customer, invoice.id)
    assert intent.id == body["payment_intent_id"] and intent.amount == 180_000
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1
    state = read_payment_state(session, invoice.id)
    assert (state.status, state.payment_status, state.outbox_state) == (
        "paid",
        "succeeded",
        "succeeded",
    )
    # Paid: nothing more to pay, and the collection has nothing to charge.
    assert start(client, mine, invoice.id).status_code == 409
    summary = collection.collect_pending(
        app.state.session_factory, make_gateway(localstripe_url), now=utcnow()
    )
    assert invoice.id not in [r.invoice_id for r in summary.results if r.outcome == "succeeded"]
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1


def test_the_collector_charges_the_portal_s_payment_intent_and_the_portal_never_charges_again(
    client: TestClient,
    session: Session,
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
    localstripe_url: str,  # noqa: F811
    app: Any,
) -> None:
    invoice = bill_january(session)
    assert invoice.id is not None
    mine = customer_headers(invoice.customer_id)
    opened = start(client, mine, invoice.id).json()
    setup_id = browser_sets_up_card(localstripe_url, opened["setup_intent_client_secret"])
    gateway = make_gateway(localstripe_url)
    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    save_default_payment_method(
        app.state.session_factory,
        gateway,
        customer_id=invoice.customer_id,
        payment_method_id=card.id,
        visible_to=None,
        now=utcnow(),
    )

    summary = collection.collect_pending(app.state.session_factory, gateway, now=utcnow())
    [result] = [r for r in summary.results if r.invoice_id == invoice.id]
    assert result.outcome == "succeeded"
    assert result.payment_intent_id == opened["payment_intent_id"]  # the portal's, confirmed

    late = confirm(client, mine, invoice.id, setup_id)  # the customer presses "Pay now" late
    assert late.status_code == 409, late.text
    stripe_customer = stripe_customer_of(session, invoice.customer_id)
    assert len(intents_for_invoice(stripe_client, stripe_customer, invoice.id)) == 1
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1


def test_a_collector_s_lease_and_the_portal_s_exclude_each_other(
    client: TestClient,
    session: Session,
    customer_headers: Callable[[int], dict[str, str]],
    app: Any,
) -> None:
    invoice = bill_january(session)
    assert invoice.id is not None
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    customer.stripe_customer_id, customer.default_payment_method_id = "cus_test", "pm_test"
    row = session.query(PaymentOutbox).filter_by(invoice_id=invoice.id).one()
    now = utcnow()

    # The portal holds the row: a collector, due or not, does not take it.
    row.leased_until = now + collection.LEASE
    session.flush()
    assert collection.claim_next(app.state.session_factory, now=now) is None

    # A collector holds it: the portal does not talk to Stripe about it.
    row.leased_until = None
    session.flush()
    assert isinstance(
        collection.claim_next(app.state.session_factory, now=now), collection.ClaimedCharge
    )
    response = start(client, customer_headers(invoice.customer_id), invoice.id)

    assert response.status_code == 409, response.text
    assert "being made right now" in response.json()["detail"]


def test_a_declined_card_is_402_recorded_and_the_next_try_gets_a_fresh_payment_intent(
    client: TestClient,
    session: Session,
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
    localstripe_url: str,  # noqa: F811
) -> None:
    invoice = bill_january(session)
    assert invoice.id is not None
    mine = customer_headers(invoice.customer_id)
    opened = start(client, mine, invoice.id).json()
    setup_id = browser_sets_up_card(
        localstripe_url, opened["setup_intent_client_secret"], DECLINED_ON_CHARGE
    )

    declined = confirm(client, mine, invoice.id, setup_id)

    assert declined.status_code == 402, declined.text
    assert "declined" in declined.json()["detail"]
    state = read_payment_state(session, invoice.id)
    assert (state.status, state.payment_status) == ("issued", "failed")
    retry = start(client, mine, invoice.id).json()
    assert retry["payment_intent_id"] != opened["payment_intent_id"]
    setup_id = browser_sets_up_card(localstripe_url, retry["setup_intent_client_secret"])
    assert confirm(client, mine, invoice.id, setup_id).json()["status"] == "succeeded"
    stripe_customer = stripe_customer_of(session, invoice.customer_id)
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1


def test_only_the_invoice_s_customer_or_finance_may_pay_it_and_only_with_its_own_setup(
    client: TestClient,
    session: Session,
    finance: dict[str, str],
    support: dict[str, str],
    customer_headers: Callable[[int], dict[str, str]],
    localstripe_url: str,  # noqa: F811
) -> None:
    invoice, other = bill_january(session), bill_january(session)
    assert invoice.id is not None and other.id is not None

    assert start(client, customer_headers(other.customer_id), invoice.id).status_code == 404
    assert start(client, support, invoice.id).status_code == 403
    assert start(client, finance, 987654).status_code == 404
    assert start(client, finance, invoice.id).status_code == 200

    # A card set up for another invoice is not taken.
    other_setup = start(client, customer_headers(other.customer_id), other.id).json()
    setup_id = browser_sets_up_card(localstripe_url, other_setup["setup_intent_client_secret"])
    refused = confirm(client, customer_headers(invoice.customer_id), invoice.id, setup_id)
    assert refused.status_code == 422, refused.text
    assert read_payment_state(session, invoice.id).payment_status == "none"
    bad = confirm(client, finance, invoice.id, "pm_not_a_setup")
    assert bad.status_code == 422
    extra = client.post(
        f"/v1/invoices/{invoice.id}/payment-intent/confirm",
        json={"setup_intent_id": setup_id, "payment_method_id": "pm_other"},
        headers=finance,
    )
    assert extra.status_code == 422  # a PaymentMethod is never taken from the browser


def test_a_card_declined_at_set_up_never_reaches_the_payment_intent(
    localstripe_url: str,  # noqa: F811
    client: TestClient,
    session: Session,
    customer_headers: Callable[[int], dict[str, str]],
) -> None:
    invoice = bill_january(session)
    assert invoice.id is not None
    opened = start(client, customer_headers(invoice.customer_id), invoice.id).json()
    with pytest.raises(urllib.error.HTTPError) as refused:
        browser_sets_up_card(
            localstripe_url, opened["setup_intent_client_secret"], DECLINED_ON_ATTACH
        )
    assert refused.value.code == 402


def test_a_card_needing_authentication_is_paid_when_the_webhook_says_so(
    client: TestClient,
    session: Session,
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
    localstripe_url: str,  # noqa: F811
) -> None:
    invoice = bill_january(session)
    assert invoice.id is not None
    mine = customer_headers(invoice.customer_id)
    opened = start(client, mine, invoice.id).json()
    setup_id = browser_sets_up_card(
        localstripe_url, opened["setup_intent_client_secret"], NEEDS_AUTHENTICATION
    )

    pending = confirm(client, mine, invoice.id, setup_id)

    assert pending.status_code == 200, pending.text
    assert pending.json()["status"] == "requires_action"
    assert pending.json()["invoice_status"] == "issued"
    # Stripe.js's confirmCardPayment: the customer completes 3D Secure in the browser.
    request = urllib.request.Request(
        f"{localstripe_url}/v1/payment_intents/{opened['payment_intent_id']}/_authenticate"
        "?success=true",
        data=json.dumps(
            {"key": PUBLISHABLE_KEY, "client_secret": pending.json()["client_secret"]}
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        intent = json.loads(response.read())
    assert intent["status"] == "succeeded"
    assert read_payment_state(session, invoice.id).status == "issued"

    payload = event_payload("payment_intent.succeeded", intent)
    received = client.post(
        "/v1/stripe/webhook", content=payload, headers={"Stripe-Signature": signed(payload)}
    )

    assert received.status_code == 200, received.text
    assert read_payment_state(session, invoice.id).status == "paid"
    stripe_customer = stripe_customer_of(session, invoice.customer_id)
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1


def test_without_a_publishable_key_card_payments_are_503(
    client: TestClient, app: Any, session: Session, finance: dict[str, str]
) -> None:
    invoice = bill_january(session)
    app.state.settings = Settings(database_url="unused-in-tests", stripe_api_key=API_KEY)

    response = start(client, finance, invoice.id or 0)

    assert response.status_code == 503
    assert "HOURGLASS_STRIPE_PUBLISHABLE_KEY" in response.json()["detail"]


def _portal_and_collector_at_once(
    factory: sessionmaker[Session], gateway: StripeGateway, invoice_id: int
) -> dict[str, object]:
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def portal() -> None:
        barrier.wait()
        try:
            outcomes["portal"] = start_card_payment(
                factory, gateway, invoice_id=invoice_id, visible_to=None, now=utcnow()
            )
        except (PaymentInProgress, InvoiceNotPayable) as error:
            outcomes["portal"] = error

    def collector() -> None:
        barrier.wait()
        outcomes["collector"] = collection.collect_pending(factory, gateway, now=utcnow())

    threads = [threading.Thread(target=portal), threading.Thread(target=collector)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.postgres_only
def test_a_portal_payment_and_a_collection_at_the_same_moment_make_one_intent_and_one_charge(
    fresh_database: str,
    localstripe_url: str,  # noqa: F811
    stripe_client: stripe.StripeClient,
) -> None:
    """The customer opens the card form while the collector charges the saved card: whoever
    holds the lease talks to Stripe, the other waits its turn (409, or the row is skipped)."""
    engine = make_engine(fresh_database)
    factory = session_factory(engine)
    gateway = make_gateway(localstripe_url)
    try:
        for _ in range(4):
            billed = issue_invoice(factory)
            stripe_customer = attach_card(factory, gateway, stripe_client, billed.customer_id)

            outcomes = _portal_and_collector_at_once(factory, gateway, billed.invoice_id)

            assert set(outcomes) == {"portal", "collector"}
            # A collection skipped for the portal's lease charges at its next run, on the same
            # PaymentIntent.
            collection.collect_pending(factory, gateway, now=utcnow())
            assert payment_state(factory, billed.invoice_id).status == "paid"
            assert len(intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)) == 1
            assert len(succeeded_charges(stripe_client, stripe_customer)) == 1
    finally:
        engine.dispose()
