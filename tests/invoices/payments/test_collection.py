"""Collecting issued invoices through the payment outbox, against a real localstripe.

Each test has a database of its own whose transactions really commit (`fresh_database`), as the
collector's steps run in separate transactions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import stripe
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, session_factory
from invoices.issuing import void_invoice
from invoices.payments import StripeGateway
from invoices.payments.collection import LEASE, collect_pending
from invoices.payments.recording import NO_PAYMENT_METHOD
from ledger.base import unit_of_work, utcnow
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from tests.factories import create_contract, create_customer, create_plan
from tests.invoices.payments.helpers import (
    API_KEY,
    DECLINED_ON_CHARGE,
    ISSUER,
    JANUARY_TOTAL_MINOR,
    attach_card,
    intents_for_invoice,
    issue_invoice,
    make_gateway,
    make_stripe_client,
    payment_state,
    succeeded_charges,
    unique_email,
)
from tests.support.localstripe_server import free_loopback_port, localstripe_url  # noqa: F401

NEEDS_3DS = "4000002500003155"
HOURGLASS = Path(sys.executable).parent / "hourglass"


@pytest.fixture
def factory(fresh_database: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def gateway(localstripe_url: str) -> StripeGateway:  # noqa: F811
    return make_gateway(localstripe_url)


@pytest.fixture
def stripe_client(localstripe_url: str) -> stripe.StripeClient:  # noqa: F811
    return make_stripe_client(localstripe_url)


def test_a_saved_card_is_charged_once_and_the_invoice_paid(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)
    stripe_customer = attach_card(factory, gateway, stripe_client, billed.customer_id)

    summary = collect_pending(factory, gateway, now=utcnow(), limit=10)

    assert [(r.invoice_id, r.outcome) for r in summary.results] == [
        (billed.invoice_id, "succeeded")
    ]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.message, state.paid) == (
        "paid",
        "succeeded",
        None,
        True,
    )
    assert (state.outbox_state, state.attempts) == ("succeeded", 1)
    [intent] = intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)
    assert (intent.status, intent.amount, intent.currency) == (
        "succeeded",
        JANUARY_TOTAL_MINOR,
        "eur",
    )
    assert intent.metadata is not None
    assert intent.metadata["invoice_number"] == billed.invoice_number
    assert state.payment_intent_id == intent.id
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1

    # Nothing is due any more: a second collection charges nothing.
    later = utcnow() + timedelta(days=30)
    assert collect_pending(factory, gateway, now=later, limit=10).results == []
    assert len(intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)) == 1


def test_a_declined_card_records_the_decline_and_a_new_card_is_collected_next_time(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)
    stripe_customer = attach_card(
        factory, gateway, stripe_client, billed.customer_id, DECLINED_ON_CHARGE
    )

    declined = collect_pending(factory, gateway, now=utcnow(), limit=10)

    assert [r.outcome for r in declined.results] == ["declined"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.message) == (
        "issued",
        "failed",
        "Your card was declined.",
    )
    assert state.outbox_state == "pending"  # retried, not forgotten
    # Retried with a backoff: the same declined card is not hammered.
    assert collect_pending(factory, gateway, now=utcnow(), limit=10).results == []

    attach_card(factory, gateway, stripe_client, billed.customer_id)  # re-arms the invoice
    collected = collect_pending(factory, gateway, now=utcnow(), limit=10)

    assert [r.outcome for r in collected.results] == ["succeeded"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.message) == ("paid", "succeeded", None)
    intents = intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)
    assert sorted(intent.status for intent in intents) == ["requires_payment_method", "succeeded"]
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1


def test_a_declined_card_is_retried_after_the_backoff_without_charging_twice(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)
    stripe_customer = attach_card(
        factory, gateway, stripe_client, billed.customer_id, DECLINED_ON_CHARGE
    )
    collect_pending(factory, gateway, now=utcnow(), limit=10)

    again = collect_pending(factory, gateway, now=utcnow() + timedelta(days=2), limit=10)

    assert [r.outcome for r in again.results] == ["declined"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.payment_status, state.attempts, state.outbox_state) == ("failed", 2, "pending")
    intents = intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)
    assert [intent.status for intent in intents] == ["requires_payment_method"] * 2
    assert succeeded_charges(stripe_client, stripe_customer) == []


def test_without_a_payment_method_the_invoice_waits_and_is_collected_once_one_is_attached(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)

    waiting = collect_pending(factory, gateway, now=utcnow(), limit=10)

    assert [r.outcome for r in waiting.results] == ["no_payment_method"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.message) == (
        "issued",
        "none",
        NO_PAYMENT_METHOD,
    )
    assert (state.outbox_state, state.attempts) == ("pending", 0)
    with unit_of_work(factory) as session:
        customer = session.get(Customer, billed.customer_id)
        assert customer is not None and customer.stripe_customer_id is None  # Stripe untouched

    stripe_customer = attach_card(factory, gateway, stripe_client, billed.customer_id)
    collected = collect_pending(factory, gateway, now=utcnow(), limit=10)

    assert [r.outcome for r in collected.results] == ["succeeded"]
    assert payment_state(factory, billed.invoice_id).status == "paid"
    assert len(intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)) == 1


def test_stripe_unreachable_keeps_the_invoice_pending_and_a_later_collection_charges_it(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)
    stripe_customer = attach_card(factory, gateway, stripe_client, billed.customer_id)
    unreachable = make_gateway(f"http://127.0.0.1:{free_loopback_port()}")
    now = utcnow()

    outage = collect_pending(factory, unreachable, now=now, limit=10)

    assert [r.outcome for r in outage.results] == ["stripe_unreachable"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status) == ("issued", "pending")
    assert state.message is not None and state.message.startswith("Stripe unreachable")
    assert (state.outbox_state, state.attempts) == ("pending", 1)
    assert collect_pending(factory, gateway, now=now, limit=10).results == []  # backing off

    later = collect_pending(factory, gateway, now=now + timedelta(minutes=2), limit=10)

    assert [r.outcome for r in later.results] == ["succeeded"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.message) == ("paid", "succeeded", None)
    assert len(intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id)) == 1


def test_a_card_needing_authentication_is_a_failure_with_a_clear_message(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)
    attach_card(factory, gateway, stripe_client, billed.customer_id, NEEDS_3DS)

    summary = collect_pending(factory, gateway, now=utcnow(), limit=10)

    assert [r.outcome for r in summary.results] == ["needs_authentication"]
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.outbox_state) == (
        "issued",
        "failed",
        "pending",
    )
    assert state.message is not None and "authentication" in state.message


def test_a_voided_invoice_is_never_charged(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    billed = issue_invoice(factory)
    stripe_customer = attach_card(factory, gateway, stripe_client, billed.customer_id)
    with unit_of_work(factory) as session:
        void_invoice(session, billed.invoice_id, issuer=ISSUER, reason="wrong contract")

    assert collect_pending(factory, gateway, now=utcnow(), limit=10).results == []
    state = payment_state(factory, billed.invoice_id)
    assert (state.status, state.payment_status, state.outbox_state) == ("void", "none", "cancelled")
    assert intents_for_invoice(stripe_client, stripe_customer, billed.invoice_id) == []


def test_limit_bounds_one_collection_and_the_rest_is_collected_next_time(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    first = issue_invoice(factory)
    second = issue_invoice(factory, customer_id=first.customer_id)
    attach_card(factory, gateway, stripe_client, first.customer_id)

    assert len(collect_pending(factory, gateway, now=utcnow(), limit=1).results) == 1
    assert len(collect_pending(factory, gateway, now=utcnow(), limit=1).results) == 1

    for billed in (first, second):
        assert payment_state(factory, billed.invoice_id).status == "paid"


def test_a_lease_outlives_no_crash_for_ever(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    """An invoice leased by a collector that never came back is collected once the lease ends."""
    billed = issue_invoice(factory)
    attach_card(factory, gateway, stripe_client, billed.customer_id)
    from invoices.payments.collection import claim_next

    now = utcnow()
    assert claim_next(factory, now=now) is not None  # a collector claims, then dies

    assert collect_pending(factory, gateway, now=now + LEASE / 2, limit=10).results == []
    later = collect_pending(factory, gateway, now=now + LEASE, limit=10)
    assert [r.outcome for r in later.results] == ["succeeded"]


def _hourglass(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOURGLASS), *args], env=env, capture_output=True, text=True, timeout=180
    )


def test_the_cli_billing_run_collects_and_payments_collect_picks_up_the_rest(
    fresh_database: str,
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    localstripe_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    with unit_of_work(factory) as session:
        plan = create_plan(session)
        with_card = create_customer(session, email=unique_email())
        without_card = create_customer(session, email=unique_email())
        for customer in (with_card, without_card):
            create_contract(session, customer=customer, plan=plan)
        ids = (with_card.id, without_card.id)
    assert ids[0] is not None and ids[1] is not None
    attach_card(factory, gateway, stripe_client, ids[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOURGLASS_")}
    env.update(
        HOURGLASS_DATABASE_URL=fresh_database,
        HOURGLASS_STRIPE_API_KEY=API_KEY,
        HOURGLASS_STRIPE_API_BASE=localstripe_url,
        COLUMNS="200",
    )

    run = _hourglass(env, "billing", "run", "--period", "2026-01")

    assert run.returncode == 0, run.stderr
    assert "Payment collection" in run.stdout
    assert _statuses(factory) == {ids[0]: ("paid", "succeeded"), ids[1]: ("issued", "none")}

    attach_card(factory, gateway, stripe_client, ids[1])
    collected = _hourglass(env, "payments", "collect")

    assert collected.returncode == 0, collected.stderr
    assert "collected 1 of 1" in collected.stdout
    assert _statuses(factory) == {ids[0]: ("paid", "succeeded"), ids[1]: ("paid", "succeeded")}

    env.pop("HOURGLASS_STRIPE_API_KEY")
    unconfigured = _hourglass(env, "payments", "collect")
    assert unconfigured.returncode == 2
    assert "error: Stripe is not configured: set HOURGLASS_STRIPE_API_KEY" in unconfigured.stderr


def _statuses(factory: sessionmaker[Session]) -> dict[int, tuple[str, str]]:
    from invoices.models import Invoice

    with unit_of_work(factory) as session:
        return {
            invoice.customer_id: (invoice.status, invoice.payment_status)
            for invoice in session.query(Invoice).join(Contract, Contract.id == Invoice.contract_id)
        }
