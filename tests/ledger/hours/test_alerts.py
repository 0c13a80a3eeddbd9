"""Hours alerts: each plan threshold raised once per allotment (or pool) when consumption first
reaches it, never re-armed by a reversal; relayed into an e-mail to the authorized contacts and a
`hours.threshold_reached` event; one alert when two entries cross a threshold together."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.db import make_engine, session_factory, unit_of_work
from invoices.notifications import alerts as relay
from invoices.notifications import mailer
from invoices.notifications.models import EmailOutbox, NotificationEvent, WebhookDelivery
from ledger.hours.alerts import HoursAlert, _insert_once
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from tests.factories import create_contract, create_plan
from tests.invoices.billing.helpers import (
    Headers,
)
from tests.invoices.billing.helpers import (
    create_contract as create_contract_api,
)
from tests.invoices.billing.helpers import (
    create_plan as create_plan_api,
)
from tests.invoices.billing.helpers import (
    post_work as post_work_api,
)
from tests.invoices.notifications.helpers import Clock, register_endpoint
from tests.support.smtp_server import SmtpServer


def _alerts(session: Session, contract_id: int) -> list[tuple[str, list[str], int, int]]:
    rows = session.scalars(
        select(HoursAlert)
        .where(col(HoursAlert.contract_id) == contract_id)
        .order_by(col(HoursAlert.id))
    ).all()
    return [(str(a.threshold_percent), a.months, a.granted_minutes, a.used_minutes) for a in rows]


def _contact(client: TestClient, finance: Headers, contract: int, email: str) -> None:
    response = client.post(
        f"/v1/contracts/{contract}/contacts", json={"name": email, "email": email}, headers=finance
    )
    assert response.status_code == 201, response.text


def test_plan_thresholds_default_and_validation(client: TestClient, finance: Headers) -> None:
    assert create_plan_api(client, finance)["alert_thresholds_percent"] == ["80", "100"]
    custom = create_plan_api(client, finance, alert_thresholds_percent=[90, "50.5", 100])
    assert custom["alert_thresholds_percent"] == ["50.5", "90", "100"]
    assert (
        create_plan_api(client, finance, alert_thresholds_percent=[])["alert_thresholds_percent"]
        == []
    )
    for bad in ([0], [101], [80, "80.0"], ["1.555"], ["abc"], list(range(1, 13)), [True], "80"):
        response = client.post(
            "/v1/plans",
            json={**_plan_body(), "alert_thresholds_percent": bad},
            headers=finance,
        )
        assert response.status_code == 422, (bad, response.text)
    revised = client.patch(
        f"/v1/plans/{custom['code']}", json={"alert_thresholds_percent": [75]}, headers=finance
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["alert_thresholds_percent"] == ["75"]


def _plan_body() -> dict[str, Any]:
    from tests.factories import plan_payload

    return plan_payload()


def test_each_threshold_once_and_reversal_does_not_rearm(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = create_contract_api(client, finance)  # 20 h = 1200 min in January
    post_work_api(client, finance, contract, "2026-01-05", 15 * 60)  # 75 %
    assert _alerts(session, contract) == []
    crossing = post_work_api(client, finance, contract, "2026-01-06", 60)  # 80 %
    assert _alerts(session, contract) == [("80", ["2026-01"], 1200, 960)]
    post_work_api(client, finance, contract, "2026-01-07", 60)  # 85 %
    reversal = client.post(f"/v1/work-entries/{crossing['id']}/reversal", headers=finance)
    assert reversal.status_code == 201, reversal.text  # back to 75 %
    post_work_api(client, finance, contract, "2026-01-08", 60)  # 80 % again: not re-armed
    assert len(_alerts(session, contract)) == 1
    post_work_api(client, finance, contract, "2026-01-09", 5 * 60)  # 100 % and overage
    post_work_api(client, finance, contract, "2026-01-10", 60)
    assert _alerts(session, contract) == [
        ("80", ["2026-01"], 1200, 960),
        ("100", ["2026-01"], 1200, 1200),
    ]
    post_work_api(client, finance, contract, "2026-02-02", 17 * 60)  # a new period: 85 %
    assert [a[:2] for a in _alerts(session, contract)][-1] == ("80", ["2026-02"])


def test_a_pool_alerts_once_for_both_months(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = create_contract_api(client, finance)
    pooled = client.post(
        f"/v1/contracts/{contract}/pools", json={"first_month": "2026-02"}, headers=finance
    )
    assert pooled.status_code == 201, pooled.text
    post_work_api(client, finance, contract, "2026-02-03", 30 * 60)  # 75 % of 40 h
    assert _alerts(session, contract) == []
    post_work_api(client, finance, contract, "2026-03-03", 2 * 60)  # 80 % of the pool
    post_work_api(client, finance, contract, "2026-03-04", 60)
    assert _alerts(session, contract) == [("80", ["2026-02", "2026-03"], 2400, 1920)]


def test_pooling_past_a_threshold_alerts_the_pool(
    client: TestClient, finance: Headers, session: Session
) -> None:
    """Joining months re-consumes their work: a pool that starts above 80 % alerts once."""
    contract = create_contract_api(client, finance)
    post_work_api(client, finance, contract, "2026-02-03", 34 * 60)  # February alone: 100 %
    assert [a[0] for a in _alerts(session, contract)] == ["80", "100"]
    pooled = client.post(
        f"/v1/contracts/{contract}/pools", json={"first_month": "2026-02"}, headers=finance
    )
    assert pooled.status_code == 201, pooled.text
    assert _alerts(session, contract)[2:] == [("80", ["2026-02", "2026-03"], 2400, 2040)]


def test_no_thresholds_no_alerts(client: TestClient, finance: Headers, session: Session) -> None:
    plan = create_plan_api(client, finance, alert_thresholds_percent=[])
    contract = create_contract_api(client, finance, plan=plan)
    post_work_api(client, finance, contract, "2026-01-05", 25 * 60)
    assert _alerts(session, contract) == []


def test_relayed_to_contacts_and_webhook_once(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    endpoint = register_endpoint(
        client, finance, "https://hooks.example/", ["hours.threshold_reached"]
    )
    contract = create_contract_api(client, finance)
    _contact(client, finance, contract, "ops@acme.example")
    _contact(client, finance, contract, "cto@acme.example")
    post_work_api(client, finance, contract, "2026-01-05", 17 * 60)
    factory = app.state.session_factory
    assert relay.relay_pending(factory) == 1
    assert relay.relay_pending(factory) == 0
    [event] = session.scalars(
        select(NotificationEvent).where(col(NotificationEvent.type) == "hours.threshold_reached")
    ).all()
    assert event.data == {
        "contract_id": contract,
        "months": ["2026-01"],
        "threshold_percent": "80",
        "granted_minutes": 1200,
        "used_minutes": 1020,
    }
    delivery = session.scalar(
        select(WebhookDelivery).where(col(WebhookDelivery.event_id) == event.id)
    )
    assert delivery is not None and delivery.endpoint_id == endpoint["id"]
    [row] = session.scalars(select(EmailOutbox).where(col(EmailOutbox.kind) == "hours_alert")).all()
    assert row.recipients == ["ops@acme.example", "cto@acme.example"]

    server = SmtpServer()
    server.start()
    try:
        clock = Clock()
        session.execute(sa.update(EmailOutbox).values(next_attempt_at=clock.now))
        session.flush()
        config = mailer.parse_smtp_url(server.url, mail_from="hours@hourglass.example")
        assert mailer.send_pending(factory, config, clock=clock).sent == 1
    finally:
        server.stop()
    [received] = server.received
    assert sorted(received.recipients) == ["cto@acme.example", "ops@acme.example"]
    subject = received.message["Subject"]
    assert f"Contract {contract}" in subject and "80 %" in subject and "2026-01" in subject


def test_alert_without_contacts_is_skipped(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    contract = create_contract_api(client, finance)
    post_work_api(client, finance, contract, "2026-01-05", 17 * 60)
    relay.relay_pending(app.state.session_factory)
    row = session.scalar(select(EmailOutbox).where(col(EmailOutbox.kind) == "hours_alert"))
    assert row is not None and row.state == "skipped"


@pytest.mark.postgres_only
def test_two_entries_crossing_together_raise_one_alert(fresh_database: str) -> None:
    engine = make_engine(fresh_database, pool_size=4)
    factory = session_factory(engine)
    try:
        with unit_of_work(factory) as session:
            contract = create_contract(session, plan=create_plan(session))
            assert contract.id is not None
            contract_id = contract.id
            post_work(
                session,
                contract_id,
                WorkEntryCreate(
                    worked_on=date(2026, 1, 5), minutes=15 * 60, level=2, ticket_ref="T-0"
                ),
            )
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                barrier.wait()
                with unit_of_work(factory) as session:
                    post_work(
                        session,
                        contract_id,
                        WorkEntryCreate(
                            worked_on=date(2026, 1, 6), minutes=60, level=2, ticket_ref=f"T-{n}"
                        ),
                    )
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with unit_of_work(factory) as session:
            assert _alerts(session, contract_id) == [("80", ["2026-01"], 1200, 960)]
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_the_unique_key_settles_writers_without_the_contract_lock(fresh_database: str) -> None:
    """Even two writers that do not hold the contract lock insert the same alert once."""
    engine = make_engine(fresh_database, pool_size=4)
    factory = session_factory(engine)
    try:
        with unit_of_work(factory) as session:
            contract = create_contract(session)
            contract_id = contract.id
            assert contract_id is not None
        barrier = threading.Barrier(2)
        results: list[object] = []

        def insert() -> None:
            with unit_of_work(factory) as session:
                barrier.wait()
                results.append(
                    _insert_once(
                        session,
                        contract_id=contract_id,
                        scope_start=date(2026, 1, 1),
                        pooled=False,
                        months=["2026-01"],
                        threshold=__import__("decimal").Decimal("80"),
                        granted=1200,
                        used=960,
                    )
                )

        threads = [threading.Thread(target=insert) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r is None for r in results) == [False, True]
        with unit_of_work(factory) as session:
            assert len(_alerts(session, contract_id)) == 1
    finally:
        engine.dispose()
