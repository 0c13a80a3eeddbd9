"""SPEC rule 8 on every write the OpenAPI document lists: the same `Idempotency-Key` with the same
body replays the first response (same status, same bytes, `Idempotent-Replayed: true`) and
writes nothing more; with another body it is refused (409).

Each write operation needs one valid request below. A new route without one fails
`test_every_write_has_a_sample` by name: add a sample, and the route is checked like the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token
from app.db import make_engine, session_factory, unit_of_work
from app.main import create_app
from app.settings import Settings
from tests.factories import (
    bearer,
    billing_run,
    create_customer,
    create_plan,
    customer_payload,
    plan_payload,
)
from tests.invoices.payments.helpers import (
    API_KEY,
    PUBLISHABLE_KEY,
    WEBHOOK_SECRET,
    browser_sets_up_card,
    create_card,
    make_stripe_client,
    unique_email,
)
from tests.support.localstripe_server import localstripe_url  # noqa: F401

Json = dict[str, Any]
WRITES = ("post", "put", "patch", "delete")
REPLAYED = "Idempotent-Replayed"

# Writes that carry no bearer token have no one to own a key; they dedupe by themselves.
UNAUTHENTICATED = {("POST", "/v1/stripe/webhook")}  # each Stripe event id is applied once


def _operations() -> list[tuple[str, str]]:
    document = create_app(Settings(database_url="sqlite://")).openapi()
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in WRITES
    )


OPERATIONS = _operations()


@pytest.fixture
def settings(localstripe_url: str) -> Settings:  # noqa: F811
    return Settings(
        database_url="unused-in-tests",
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_publishable_key=PUBLISHABLE_KEY,
    )


@dataclass
class World:
    """What the samples need, made through the API on first use."""

    client: TestClient
    finance: dict[str, str]
    stripe_api_base: str
    session: Session
    made: dict[str, Any] = field(default_factory=dict)

    def post(self, path: str, body: Json | None = None) -> Json:
        response = self.client.post(path, json=body, headers=self.finance)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self.made:
            self.made[name] = make()
        return self.made[name]

    def plan(self) -> Json:
        return self.once("plan", lambda: self.post("/v1/plans", plan_payload()))

    def customer(self) -> Json:
        return self.once(
            "customer",
            lambda: self.post("/v1/customers", customer_payload(email=unique_email())),
        )

    def contract_body(self, start_date: str) -> Json:
        return {
            "customer_id": self.customer()["id"],
            "plan_code": self.plan()["code"],
            "start_date": start_date,
        }

    def contract(self) -> Json:
        return self.once(
            "contract", lambda: self.post("/v1/contracts", self.contract_body("2026-01-01"))
        )

    def work_entry(self) -> Json:
        return self.once(
            "work",
            lambda: self.post(
                f"/v1/contracts/{self.contract()['id']}/work-entries",
                {"worked_on": "2026-01-10", "minutes": 60, "level": 2, "ticket_ref": "T-1"},
            ),
        )

    def pool(self) -> str:
        self.once(
            "pool",
            lambda: self.post(
                f"/v1/contracts/{self.contract()['id']}/pools", {"first_month": "2026-02"}
            ),
        )
        return "2026-02"

    def incident(self) -> Json:
        self.plan()  # incidents name a component some plan has
        return self.once(
            "incident",
            lambda: self.post(
                "/v1/incidents",
                {"components": ["platform"], "started_at": "2026-04-08T10:00:00+02:00"},
            ),
        )

    def ticket(self) -> Json:
        return self.once(
            "ticket",
            lambda: self.post(
                "/v1/tickets",
                {
                    "contract_id": self.contract()["id"],
                    "severity": "S2",
                    "opened_at": "2026-03-02T10:00:00+01:00",
                    "reference": "SUP-1",
                },
            ),
        )

    def pause(self) -> Json:
        ticket = self.once(
            "pause",
            lambda: self.post(
                f"/v1/tickets/{self.ticket()['id']}/pauses",
                {"started_at": "2026-03-02T10:10:00+01:00"},
            ),
        )
        return dict(ticket["pauses"][0])

    def contact(self) -> Json:
        return self.once(
            "contact",
            lambda: self.post(
                f"/v1/contracts/{self.contract()['id']}/contacts",
                {"name": "Ada", "email": "ada@customer.example"},
            ),
        )

    def invoice(self) -> Json:
        def make() -> Json:
            self.work_entry()
            billing_run(self.client, self.finance, "2026-01")
            listed = self.client.get(
                "/v1/invoices",
                params={"customer_id": self.customer()["id"], "period": "2026-01"},
                headers=self.finance,
            ).json()["items"]
            assert len(listed) == 1, listed
            return dict(listed[0])

        return self.once("invoice", make)

    def token_id(self) -> int:
        def make() -> int:
            row, _ = create_token(self.session, role=Role.SUPPORT, name="to revoke")
            assert row.id is not None
            return row.id

        return int(self.once("token", make))

    def card_setup(self) -> tuple[int, str]:
        """An invoice with its payment started and a card set up in the browser."""

        def make() -> tuple[int, str]:
            invoice_id = self.invoice()["id"]
            opened = self.post(f"/v1/invoices/{invoice_id}/payment-intent")
            secret = opened["setup_intent_client_secret"]
            return invoice_id, browser_sets_up_card(self.stripe_api_base, secret)

        return tuple(self.once("card_setup", make))  # type: ignore[return-value]

    def webhook_endpoint(self) -> Json:
        return self.once(
            "endpoint",
            lambda: self.post(
                "/v1/webhook-endpoints",
                {"url": "http://127.0.0.1:9/hooks", "events": ["invoice.issued"]},
            ),
        )

    def card(self) -> str:
        client: stripe.StripeClient = make_stripe_client(self.stripe_api_base)
        return self.once("card", lambda: create_card(client))


# (method, path template) → (the concrete path, a body, another body for the 409 check or None)
Sample = Callable[[World], tuple[str, Json | None, Json | None]]

SAMPLES: dict[tuple[str, str], Sample] = {
    ("POST", "/v1/plans"): lambda w: (
        "/v1/plans",
        plan_payload(code="idem-plan"),
        plan_payload(code="idem-plan-2"),
    ),
    ("PATCH", "/v1/plans/{code}"): lambda w: (
        f"/v1/plans/{w.plan()['code']}",
        {"fee": "2100.00"},
        {"fee": "2200.00"},
    ),
    ("POST", "/v1/customers"): lambda w: (
        "/v1/customers",
        customer_payload(name="Idem GmbH"),
        customer_payload(name="Other GmbH"),
    ),
    ("PATCH", "/v1/customers/{customer_id}"): lambda w: (
        f"/v1/customers/{w.customer()['id']}",
        {"name": "Renamed GmbH"},
        {"name": "Renamed again GmbH"},
    ),
    ("POST", "/v1/contracts"): lambda w: (
        "/v1/contracts",
        {
            "customer_id": w.customer()["id"],
            "plan_code": w.plan()["code"],
            "start_date": "2026-01-01",
        },
        {
            "customer_id": w.customer()["id"],
            "plan_code": w.plan()["code"],
            "start_date": "2026-02-01",
        },
    ),
    ("POST", "/v1/contracts/{contract_id}/cancel"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/cancel",
        {"end_date": "2026-12-31"},
        {"end_date": "2026-11-30"},
    ),
    ("POST", "/v1/contracts/{contract_id}/work-entries"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/work-entries",
        {"worked_on": "2026-01-12", "minutes": 30, "level": 2, "ticket_ref": "T-2"},
        {"worked_on": "2026-01-12", "minutes": 45, "level": 2, "ticket_ref": "T-2"},
    ),
    ("POST", "/v1/work-entries/batch"): lambda w: (
        "/v1/work-entries/batch",
        {
            "entries": [
                {
                    "contract_id": w.contract()["id"],
                    "worked_on": "2026-01-13",
                    "minutes": 30,
                    "level": 2,
                    "ticket_ref": "T-3",
                }
            ]
        },
        {"entries": []},
    ),
    ("POST", "/v1/work-entries/{work_entry_id}/reversal"): lambda w: (
        f"/v1/work-entries/{w.work_entry()['id']}/reversal",
        None,
        None,
    ),
    ("POST", "/v1/contracts/{contract_id}/pools"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/pools",
        {"first_month": "2026-04"},
        {"first_month": "2026-06"},
    ),
    ("DELETE", "/v1/contracts/{contract_id}/pools/{first_month}"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/pools/{w.pool()}",
        None,
        None,
    ),
    ("POST", "/v1/incidents"): lambda w: (
        "/v1/incidents" if w.plan() else "",
        {"components": ["platform"], "started_at": "2026-05-08T10:00:00+02:00"},
        {"components": ["platform"], "started_at": "2026-05-09T10:00:00+02:00"},
    ),
    ("PATCH", "/v1/incidents/{incident_id}"): lambda w: (
        f"/v1/incidents/{w.incident()['id']}",
        {"ended_at": "2026-04-08T15:00:00+02:00"},
        {"ended_at": "2026-04-08T16:00:00+02:00"},
    ),
    ("POST", "/v1/tickets"): lambda w: (
        "/v1/tickets",
        {
            "contract_id": w.contract()["id"],
            "severity": "S3",
            "opened_at": "2026-03-03T10:00:00+01:00",
            "reference": "SUP-2",
        },
        {
            "contract_id": w.contract()["id"],
            "severity": "S4",
            "opened_at": "2026-03-03T10:00:00+01:00",
            "reference": "SUP-2",
        },
    ),
    ("POST", "/v1/tickets/{ticket_id}/response"): lambda w: (
        f"/v1/tickets/{w.ticket()['id']}/response",
        {"responded_at": "2026-03-02T10:30:00+01:00"},
        {"responded_at": "2026-03-02T10:40:00+01:00"},
    ),
    ("POST", "/v1/tickets/{ticket_id}/pauses"): lambda w: (
        f"/v1/tickets/{w.ticket()['id']}/pauses",
        {"started_at": "2026-03-02T11:00:00+01:00", "ended_at": "2026-03-02T11:30:00+01:00"},
        {"started_at": "2026-03-02T11:00:00+01:00", "ended_at": "2026-03-02T11:40:00+01:00"},
    ),
    ("PATCH", "/v1/tickets/{ticket_id}/pauses/{pause_id}"): lambda w: (
        f"/v1/tickets/{w.ticket()['id']}/pauses/{w.pause()['id']}",
        {"ended_at": "2026-03-02T10:20:00+01:00"},
        {"ended_at": "2026-03-02T10:25:00+01:00"},
    ),
    ("POST", "/v1/contracts/{contract_id}/contacts"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/contacts",
        {"name": "Grace", "email": "grace@customer.example"},
        {"name": "Linus", "email": "linus@customer.example"},
    ),
    ("DELETE", "/v1/contracts/{contract_id}/contacts/{contact_id}"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/contacts/{w.contact()['id']}",
        None,
        None,
    ),
    ("POST", "/v1/invoices/{invoice_id}/void"): lambda w: (
        f"/v1/invoices/{w.invoice()['id']}/void",
        {"reason": "wrong address"},
        {"reason": "another reason"},
    ),
    ("POST", "/v1/contracts/{contract_id}/adjustments"): lambda w: (
        f"/v1/contracts/{w.contract()['id']}/adjustments",
        {"amount": "-50.00", "description": "goodwill"},
        {"amount": "-60.00", "description": "goodwill"},
    ),
    ("POST", "/v1/billing-runs"): lambda w: (
        "/v1/billing-runs",
        {"period": "2026-02"} if w.work_entry() else {},
        {"period": "2026-03"},
    ),
    ("POST", "/v1/invoices/{invoice_id}/payment-intent"): lambda w: (
        f"/v1/invoices/{w.invoice()['id']}/payment-intent",
        None,
        None,
    ),
    ("POST", "/v1/invoices/{invoice_id}/payment-intent/confirm"): lambda w: (
        f"/v1/invoices/{w.card_setup()[0]}/payment-intent/confirm",
        {"setup_intent_id": w.card_setup()[1]},
        {"setup_intent_id": "seti_other"},
    ),
    ("POST", "/v1/webhook-endpoints"): lambda w: (
        "/v1/webhook-endpoints",
        {"url": "http://127.0.0.1:9/a", "events": ["invoice.paid"]},
        {"url": "http://127.0.0.1:9/b", "events": ["invoice.paid"]},
    ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): lambda w: (
        f"/v1/webhook-endpoints/{w.webhook_endpoint()['id']}",
        None,
        None,
    ),
    ("DELETE", "/v1/tokens/{token_id}"): lambda w: (f"/v1/tokens/{w.token_id()}", None, None),
    ("POST", "/v1/customers/{customer_id}/payment-method"): lambda w: (
        f"/v1/customers/{w.customer()['id']}/payment-method",
        {"payment_method_id": w.card()},
        {"payment_method_id": "pm_other"},
    ),
}


def _row_counts(session: Session) -> dict[str, int]:
    names = sa.inspect(session.connection()).get_table_names()
    return {
        name: int(session.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
        for name in names
        if name not in ("idempotency_keys", "alembic_version")
    }


def _send(client: TestClient, method: str, path: str, body: Json | None, headers: Any) -> Any:
    if body is None:
        return client.request(method, path, headers=headers)
    return client.request(method, path, json=body, headers=headers)


def test_every_write_has_a_sample() -> None:
    missing = [op for op in OPERATIONS if op not in SAMPLES and op not in UNAUTHENTICATED]
    assert not missing, f"add a sample request to SAMPLES in {__file__} for: {missing}"


@pytest.mark.parametrize(
    ("method", "path"),
    [op for op in OPERATIONS if op in SAMPLES],
    ids=[f"{m} {p}" for m, p in OPERATIONS if (m, p) in SAMPLES],
)
def test_a_write_replays_with_its_key(
    method: str,
    path: str,
    client: TestClient,
    finance: dict[str, str],
    session: Session,
    localstripe_url: str,  # noqa: F811
) -> None:
    world = World(client=client, finance=finance, stripe_api_base=localstripe_url, session=session)
    url, body, other_body = SAMPLES[(method, path)](world)
    headers = finance | {"Idempotency-Key": f"walk-{method}-{path}"}

    before = _row_counts(session)
    first = _send(client, method, url, body, headers)
    assert 200 <= first.status_code < 300, first.text
    assert REPLAYED not in first.headers
    after_first = _row_counts(session)

    second = _send(client, method, url, body, headers)
    assert second.status_code == first.status_code, second.text
    assert second.content == first.content
    assert second.headers[REPLAYED] == "true"
    assert second.headers.get("content-type") == first.headers.get("content-type")
    assert _row_counts(session) == after_first, "the replay wrote rows"
    if method == "POST" and first.status_code == 201:
        assert after_first != before, "the sample should create something"

    if other_body is not None:
        conflict = _send(client, method, url, other_body, headers)
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["title"] == "Idempotency-Key conflict"
        assert _row_counts(session) == after_first


def test_a_key_belongs_to_the_token_that_sent_it(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    other = bearer(session, Role.FINANCE)
    body = customer_payload(name="Same Key GmbH")
    first = client.post("/v1/customers", json=body, headers=finance | {"Idempotency-Key": "k"})
    second = client.post("/v1/customers", json=body, headers=other | {"Idempotency-Key": "k"})
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert REPLAYED not in second.headers
    assert first.json()["id"] != second.json()["id"]
    # Each token replays its own.
    again = client.post("/v1/customers", json=body, headers=other | {"Idempotency-Key": "k"})
    assert again.headers[REPLAYED] == "true"
    assert again.json()["id"] == second.json()["id"]


@pytest.mark.postgres_only
def test_one_key_racing_on_postgresql_creates_one_contract(
    db_kind: str, fresh_database: str
) -> None:
    """Two identical POST /v1/contracts with one key at the same instant, several times: one
    contract per key; the other request is the replay or refused as in flight (409)."""
    engine = make_engine(fresh_database, pool_size=10)
    try:
        with unit_of_work(session_factory(engine)) as setup:
            plan, customer = create_plan(setup), create_customer(setup)
            _, token = create_token(setup, role=Role.FINANCE)
            plan_code, customer_id = plan.code, customer.id
        app = create_app(Settings(database_url=fresh_database), engine=engine)
        body = {"customer_id": customer_id, "plan_code": plan_code, "start_date": "2026-01-01"}
        rounds = 8
        for round_ in range(rounds):
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"race-{round_}"}
            barrier = threading.Barrier(2)

            def task(
                _: int, headers: dict[str, str] = headers, barrier: threading.Barrier = barrier
            ) -> Any:
                with TestClient(app) as c:
                    barrier.wait()
                    return c.post("/v1/contracts", json=body, headers=headers)

            with ThreadPoolExecutor(2) as pool:
                responses = list(pool.map(task, range(2)))
            fresh = [r for r in responses if r.status_code == 201 and REPLAYED not in r.headers]
            assert len(fresh) == 1, [(r.status_code, r.text) for r in responses]
            (other,) = [r for r in responses if r is not fresh[0]]
            if other.status_code == 201:
                assert other.headers[REPLAYED] == "true"
                assert other.content == fresh[0].content
            else:
                assert other.status_code == 409, other.text
                assert "in progress" in other.json()["detail"]
        with engine.connect() as conn:
            contracts = conn.execute(
                sa.text("SELECT count(*) FROM contracts WHERE customer_id = :c"),
                {"c": customer_id},
            ).scalar_one()
        assert contracts == rounds
    finally:
        engine.dispose()
