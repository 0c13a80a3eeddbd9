"""A collector killed between any two of its steps never charges twice nor forgets an invoice.

A crash is a `SimulatedCrash` (a BaseException, like the process dying: nothing catches it)
raised from a monkeypatched step. After it, collection runs again and must converge: exactly one
successful PaymentIntent on localstripe for the invoice, and the invoice paid.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import stripe
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, session_factory
from invoices.payments import ChargeResult, StripeGateway
from invoices.payments import collection as collection_module
from invoices.payments import recording as recording_module
from invoices.payments.collection import LEASE, CollectionSummary, claim_next, collect_pending
from ledger.base import utcnow
from tests.invoices.payments.helpers import (
    DECLINED_ON_CHARGE,
    Billed,
    attach_card,
    intents_for_invoice,
    issue_invoice,
    make_config,
    make_gateway,
    make_stripe_client,
    payment_state,
    succeeded_charges,
)
from tests.support.localstripe_server import localstripe_url  # noqa: F401


class SimulatedCrash(BaseException):
    """The collector's process dies here."""


def crash(*_args: Any, **_kwargs: Any) -> Any:
    raise SimulatedCrash


def crash_after(step: Callable[..., Any]) -> Callable[..., Any]:
    """Run the step (its writes are flushed), then die before the transaction commits."""

    def dying(*args: Any, **kwargs: Any) -> Any:
        step(*args, **kwargs)
        raise SimulatedCrash

    return dying


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


@pytest.fixture
def billed(
    factory: sessionmaker[Session], gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> tuple[Billed, str]:
    """An issued invoice of a customer with a good card; and the Stripe customer id."""
    invoice = issue_invoice(factory)
    return invoice, attach_card(factory, gateway, stripe_client, invoice.customer_id)


def assert_collected_once(
    factory: sessionmaker[Session],
    stripe_client: stripe.StripeClient,
    billed: tuple[Billed, str],
) -> None:
    invoice, stripe_customer = billed
    intents = intents_for_invoice(stripe_client, stripe_customer, invoice.invoice_id)
    assert [intent.status for intent in intents] == ["succeeded"]
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1
    state = payment_state(factory, invoice.invoice_id)
    assert (state.status, state.payment_status, state.outbox_state, state.message) == (
        "paid",
        "succeeded",
        "succeeded",
        None,
    )
    assert state.payment_intent_id == intents[0].id


def rerun(
    factory: sessionmaker[Session], gateway: StripeGateway, now: datetime
) -> CollectionSummary:
    return collect_pending(factory, gateway, now=now, limit=10)


def test_crash_while_claiming_leaves_the_row_due(
    monkeypatch: pytest.MonkeyPatch,
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    billed: tuple[Billed, str],
) -> None:
    now = utcnow()
    monkeypatch.setattr(collection_module, "ClaimedCharge", crash)  # inside the claim transaction
    with pytest.raises(SimulatedCrash):
        rerun(factory, gateway, now)
    monkeypatch.undo()
    state = payment_state(factory, billed[0].invoice_id)
    assert (state.payment_status, state.attempts) == ("none", 0)  # rolled back, not leased

    assert [r.outcome for r in rerun(factory, gateway, now).results] == ["succeeded"]
    assert_collected_once(factory, stripe_client, billed)


def test_crash_after_claiming_before_calling_stripe(
    monkeypatch: pytest.MonkeyPatch,
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    billed: tuple[Billed, str],
) -> None:
    now = utcnow()
    monkeypatch.setattr(collection_module, "charge_claimed", crash)
    with pytest.raises(SimulatedCrash):
        rerun(factory, gateway, now)
    monkeypatch.undo()
    state = payment_state(factory, billed[0].invoice_id)
    assert (state.status, state.payment_status, state.attempts) == ("issued", "pending", 1)
    assert intents_for_invoice(stripe_client, billed[1], billed[0].invoice_id) == []

    # Leased: not taken again while the lease runs, then taken once it has run out.
    assert rerun(factory, gateway, now + LEASE / 2).results == []
    assert [r.outcome for r in rerun(factory, gateway, now + LEASE).results] == ["succeeded"]
    assert_collected_once(factory, stripe_client, billed)


def test_crash_after_stripe_charged_before_recording(
    monkeypatch: pytest.MonkeyPatch,
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    billed: tuple[Billed, str],
) -> None:
    now = utcnow()
    monkeypatch.setattr(collection_module, "record_outcome", crash)
    with pytest.raises(SimulatedCrash):
        rerun(factory, gateway, now)
    monkeypatch.undo()
    [intent] = intents_for_invoice(stripe_client, billed[1], billed[0].invoice_id)
    assert intent.status == "succeeded"  # Stripe has the money, the database does not know
    assert payment_state(factory, billed[0].invoice_id).status == "issued"

    assert [r.outcome for r in rerun(factory, gateway, now + LEASE).results] == ["succeeded"]
    assert_collected_once(factory, stripe_client, billed)


def test_crash_during_recording(
    monkeypatch: pytest.MonkeyPatch,
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    billed: tuple[Billed, str],
) -> None:
    now = utcnow()
    monkeypatch.setattr(
        recording_module, "record_success", crash_after(recording_module.record_success)
    )
    with pytest.raises(SimulatedCrash):
        rerun(factory, gateway, now)
    monkeypatch.undo()
    state = payment_state(factory, billed[0].invoice_id)
    assert (state.status, state.payment_status) == ("issued", "pending")  # rolled back

    assert [r.outcome for r in rerun(factory, gateway, now + LEASE).results] == ["succeeded"]
    assert_collected_once(factory, stripe_client, billed)


def test_crash_after_a_decline_before_recording_does_not_try_the_card_again(
    monkeypatch: pytest.MonkeyPatch,
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
) -> None:
    invoice = issue_invoice(factory)
    stripe_customer = attach_card(
        factory, gateway, stripe_client, invoice.customer_id, DECLINED_ON_CHARGE
    )
    now = utcnow()
    monkeypatch.setattr(collection_module, "record_outcome", crash)
    with pytest.raises(SimulatedCrash):
        rerun(factory, gateway, now)
    monkeypatch.undo()

    after_lease = rerun(factory, gateway, now + LEASE)

    assert [r.outcome for r in after_lease.results] == ["declined"]
    intents = intents_for_invoice(stripe_client, stripe_customer, invoice.invoice_id)
    assert [intent.status for intent in intents] == ["requires_payment_method"]  # one attempt
    assert payment_state(factory, invoice.invoice_id).message == "Your card was declined."

    attach_card(factory, gateway, stripe_client, invoice.customer_id)
    assert [r.outcome for r in rerun(factory, gateway, now + LEASE).results] == ["succeeded"]
    intents = intents_for_invoice(stripe_client, stripe_customer, invoice.invoice_id)
    assert sorted(intent.status for intent in intents) == ["requires_payment_method", "succeeded"]
    assert len(succeeded_charges(stripe_client, stripe_customer)) == 1


def test_attaching_a_card_does_not_break_a_running_lease(
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    stripe_client: stripe.StripeClient,
    billed: tuple[Billed, str],
) -> None:
    """A new card re-arms waiting invoices, but never one a collector holds right now."""
    now = utcnow()
    assert claim_next(factory, now=now) is not None  # a collector is calling Stripe…

    attach_card(factory, gateway, stripe_client, billed[0].customer_id)

    assert rerun(factory, gateway, utcnow()).results == []
    assert [r.outcome for r in rerun(factory, gateway, now + LEASE).results] == ["succeeded"]


class SlowGateway(StripeGateway):
    """Widens the window between claiming and recording, so two collectors overlap."""

    def charge(self, **kwargs: Any) -> ChargeResult:
        time.sleep(0.2)
        return super().charge(**kwargs)


@pytest.fixture
def slow_gateway(localstripe_url: str) -> StripeGateway:  # noqa: F811
    return SlowGateway(make_config(localstripe_url))


def test_two_collectors_at_once_charge_each_invoice_once(
    factory: sessionmaker[Session], slow_gateway: StripeGateway, stripe_client: stripe.StripeClient
) -> None:
    first = issue_invoice(factory)
    invoices = [first, *(issue_invoice(factory, customer_id=first.customer_id) for _ in range(5))]
    stripe_customer = attach_card(factory, slow_gateway, stripe_client, first.customer_id)
    now = utcnow()
    start = threading.Barrier(2)
    summaries: list[CollectionSummary] = []
    errors: list[BaseException] = []

    def collector() -> None:
        try:
            start.wait()
            summaries.append(collect_pending(factory, slow_gateway, now=now, limit=100))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=collector) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    collected = sorted(r.invoice_id for summary in summaries for r in summary.results)
    assert collected == sorted(invoice.invoice_id for invoice in invoices)  # each once
    assert all(summary.results for summary in summaries)  # and both collectors took a share
    for invoice in invoices:
        intents = intents_for_invoice(stripe_client, stripe_customer, invoice.invoice_id)
        assert [intent.status for intent in intents] == ["succeeded"]
        assert payment_state(factory, invoice.invoice_id).status == "paid"
    assert len(succeeded_charges(stripe_client, stripe_customer)) == len(invoices)
