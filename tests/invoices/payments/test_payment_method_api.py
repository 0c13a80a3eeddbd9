"""`POST /v1/customers/{id}/payment-method`, and collection after a billing run through the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.factories import billing_run, customer_payload, plan_payload
from tests.invoices.payments.helpers import (
    API_KEY,
    DECLINED_ON_ATTACH,
    DECLINED_ON_CHARGE,
    WEBHOOK_SECRET,
    create_card,
    make_stripe_client,
    unique_email,
)
from tests.support.localstripe_server import free_loopback_port, localstripe_url  # noqa: F401

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def settings(localstripe_url: str) -> Settings:  # noqa: F811
    return Settings(
        database_url="unused-in-tests",
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture
def stripe_client(localstripe_url: str) -> stripe.StripeClient:  # noqa: F811
    return make_stripe_client(localstripe_url)


def new_customer(client: TestClient, finance: dict[str, str]) -> int:
    response = client.post(
        "/v1/customers", json=customer_payload(email=unique_email()), headers=finance
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def save_card(
    client: TestClient, headers: dict[str, str], customer_id: int, payment_method_id: str
) -> Any:
    return client.post(
        f"/v1/customers/{customer_id}/payment-method",
        json={"payment_method_id": payment_method_id},
        headers=headers,
    )


def assert_problem(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    for word in words:
        assert word in body["detail"]


def test_finance_saves_a_card_as_the_default_of_a_mirrored_stripe_customer(
    client: TestClient, finance: dict[str, str], stripe_client: stripe.StripeClient
) -> None:
    customer_id = new_customer(client, finance)

    response = save_card(client, finance, customer_id, create_card(stripe_client))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == customer_id and body["has_payment_method"] is True
    stripe_customer = stripe_client.v1.customers.retrieve(body["stripe_customer_id"])
    assert stripe_customer.metadata is not None
    assert stripe_customer.metadata["hourglass_customer_id"] == str(customer_id)
    assert stripe_customer.invoice_settings is not None
    assert stripe_customer.invoice_settings.default_payment_method is not None

    # A second card replaces the default on the same Stripe customer: no twin.
    again = save_card(client, finance, customer_id, create_card(stripe_client))
    assert again.json()["stripe_customer_id"] == body["stripe_customer_id"]


def test_the_customer_saves_its_own_card_and_no_one_else_s(
    client: TestClient,
    finance: dict[str, str],
    support: dict[str, str],
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
) -> None:
    mine, theirs = new_customer(client, finance), new_customer(client, finance)
    card = create_card(stripe_client)

    assert_problem(save_card(client, customer_headers(mine), theirs, card), 404)
    assert save_card(client, support, mine, card).status_code == 403
    response = save_card(client, customer_headers(mine), mine, card)

    assert response.status_code == 200, response.text
    assert response.json()["has_payment_method"] is True


def test_a_payment_method_attached_to_another_customer_is_refused(
    client: TestClient,
    finance: dict[str, str],
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
) -> None:
    """SPEC "Payments": only if Stripe does not show it attached to another customer."""
    a, b = new_customer(client, finance), new_customer(client, finance)
    saved = save_card(client, customer_headers(b), b, create_card(stripe_client))
    assert saved.status_code == 200, saved.text
    b_stripe = saved.json()["stripe_customer_id"]
    b_card = stripe_client.v1.customers.retrieve(b_stripe).invoice_settings
    assert b_card is not None and isinstance(b_card.default_payment_method, str)
    card_of_b = b_card.default_payment_method

    for headers in (customer_headers(a), finance):
        response = save_card(client, headers, a, card_of_b)
        assert_problem(response, 409, "another customer")
        detail = response.json()["detail"]  # names neither the other customer nor its Stripe id
        assert re.search(rf"\b{b}\b", detail) is None and b_stripe not in detail
    assert client.get(f"/v1/customers/{a}", headers=finance).json()["has_payment_method"] is False
    assert stripe_client.v1.payment_methods.retrieve(card_of_b).customer == b_stripe
    # B itself may save it again (it is already B's).
    assert save_card(client, customer_headers(b), b, card_of_b).status_code == 200


def test_unknown_customer_is_404(
    client: TestClient, finance: dict[str, str], stripe_client: stripe.StripeClient
) -> None:
    assert_problem(save_card(client, finance, 987654, create_card(stripe_client)), 404)


@pytest.mark.parametrize("card", ["pm_does_not_exist", DECLINED_ON_ATTACH])
def test_a_payment_method_stripe_refuses_is_422_and_nothing_is_saved(
    client: TestClient, finance: dict[str, str], stripe_client: stripe.StripeClient, card: str
) -> None:
    customer_id = new_customer(client, finance)
    payment_method_id = card if card.startswith("pm_") else create_card(stripe_client, card)

    response = save_card(client, finance, customer_id, payment_method_id)

    assert_problem(response, 422, "Stripe refused payment method")
    assert response.json()["errors"][0]["field"] == "payment_method_id"
    customer = client.get(f"/v1/customers/{customer_id}", headers=finance).json()
    assert customer["has_payment_method"] is False


def test_without_stripe_configured_saving_a_card_is_503(
    client: TestClient, app: Any, finance: dict[str, str]
) -> None:
    app.state.settings = Settings(database_url="unused-in-tests")
    customer_id = new_customer(client, finance)

    assert_problem(
        save_card(client, finance, customer_id, "pm_card_visa"),
        503,
        "HOURGLASS_STRIPE_API_KEY",
    )
    assert_problem(save_card(client, finance, 987654, "pm_card_visa"), 404)


def test_stripe_unreachable_when_saving_a_card_is_503(
    client: TestClient, app: Any, finance: dict[str, str]
) -> None:
    app.state.settings = Settings(
        database_url="unused-in-tests",
        stripe_api_key=API_KEY,
        stripe_api_base=f"http://127.0.0.1:{free_loopback_port()}",
    )
    customer_id = new_customer(client, finance)

    response = save_card(client, finance, customer_id, "pm_card_visa")

    assert_problem(response, 503, "unreachable")
    customer = client.get(f"/v1/customers/{customer_id}", headers=finance).json()
    assert customer["stripe_customer_id"] is None and customer["has_payment_method"] is False


def _contract_for(client: TestClient, finance: dict[str, str], customer_id: int) -> int:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    response = client.post(
        "/v1/contracts",
        json={
            "customer_id": customer_id,
            "plan_code": plan,
            "start_date": "2026-01-01",
            "committed_months": 12,
        },
        headers=finance,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _january_invoice(
    client: TestClient, headers: dict[str, str], contract_id: int
) -> dict[str, Any]:
    response = client.get(f"/v1/invoices?contract_id={contract_id}", headers=headers)
    assert response.status_code == 200, response.text
    [invoice] = response.json()["items"]
    return dict(invoice)


def test_a_billing_run_through_the_api_collects_the_invoices_it_issues(
    client: TestClient,
    finance: dict[str, str],
    customer_headers: Callable[[int], dict[str, str]],
    stripe_client: stripe.StripeClient,
) -> None:
    paying, declining, without_card = (new_customer(client, finance) for _ in range(3))
    contracts = {c: _contract_for(client, finance, c) for c in (paying, declining, without_card)}
    assert save_card(client, finance, paying, create_card(stripe_client)).status_code == 200
    assert (
        save_card(
            client, finance, declining, create_card(stripe_client, DECLINED_ON_CHARGE)
        ).status_code
        == 200
    )

    run = billing_run(client, finance, "2026-01")
    assert run["status"] == "completed", run
    paid = _january_invoice(client, customer_headers(paying), contracts[paying])
    assert (paid["status"], paid["payment_status"], paid["payment_failure_message"]) == (
        "paid",
        "succeeded",
        None,
    )
    assert paid["paid_at"] is not None
    failed = _january_invoice(client, customer_headers(declining), contracts[declining])
    assert (failed["status"], failed["payment_status"], failed["payment_failure_message"]) == (
        "issued",
        "failed",
        "Your card was declined.",
    )
    waiting = _january_invoice(client, finance, contracts[without_card])
    assert (waiting["status"], waiting["payment_status"]) == ("issued", "none")
    assert "no saved payment method" in waiting["payment_failure_message"]
