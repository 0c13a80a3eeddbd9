"""SPEC "Units and money", bounds: nothing is granted beyond the period after the current one,
whatever a request says; a cancellation may be dated later but grants nothing ahead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ledger.hours.models import Allotment
from tests.ledger.hours.helpers import Headers, balance, contract_id, pool, post_work, statement


def _allotments(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(sa.select(sa.func.count()).select_from(Allotment)) or 0)


def test_a_late_cancellation_grants_nothing_ahead(
    client: TestClient, finance: Headers, session: Session, clock: Callable[[datetime], None]
) -> None:
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-03-09", 60)
    granted = _allotments(session)
    assert granted == 3  # January to March
    response = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2099-12-31"}, headers=finance
    )
    assert response.status_code == 200, response.text
    assert _allotments(session) == granted


def test_the_next_period_can_be_read_and_pooled_the_one_after_cannot(
    client: TestClient, finance: Headers, session: Session, clock: Callable[[datetime], None]
) -> None:
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    contract = contract_id(client, finance)
    assert statement(client, finance, contract, "2026-04")["granted_minutes"] == 1200
    assert balance(client, finance, contract, "2026-04-30T12:00:00Z")["remaining_minutes"] == 1200
    assert _allotments(session) == 0  # reads computed it all, stored nothing
    too_far = client.get(
        f"/v1/contracts/{contract}/statement", params={"month": "2026-05"}, headers=finance
    )
    assert too_far.status_code == 422, too_far.text
    assert pool(client, finance, contract, "2026-04").status_code == 422  # April + May
    assert pool(client, finance, contract, "2026-03").status_code == 201  # March + April
    assert _allotments(session) == 4


def test_work_tomorrow_is_accepted_the_day_after_is_not(
    client: TestClient, finance: Headers, clock: Callable[[datetime], None]
) -> None:
    clock(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))  # already the 11th in Berlin
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-03-12", 60)
    url = f"/v1/contracts/{contract}/work-entries"
    body = {"worked_on": "2026-03-13", "minutes": 60, "level": 2, "ticket_ref": "T-13"}
    assert client.post(url, json=body, headers=finance).status_code == 422


def test_an_incident_cannot_end_in_the_future(client: TestClient, finance: Headers) -> None:
    contract_id(client, finance)  # its plan has the component "platform"
    now = datetime.now(UTC)
    created = client.post(
        "/v1/incidents",
        json={"components": ["platform"], "started_at": now.isoformat()},
        headers=finance,
    )
    assert created.status_code == 201, created.text
    later = now.replace(year=now.year + 1).isoformat()
    response = client.patch(
        f"/v1/incidents/{created.json()['id']}", json={"ended_at": later}, headers=finance
    )
    assert response.status_code == 422, response.text
