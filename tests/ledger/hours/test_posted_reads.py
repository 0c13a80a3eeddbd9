"""A posted entry's response is computed from the rows its posting wrote, not read back
(issue #12): it must be exactly what reading the entry back gives, in every case of coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.hours.alerts import HoursAlert
from tests.ledger.hours.helpers import (
    Headers,
    Json,
    balance,
    close,
    contract_id,
    coverage,
    create_plan,
    pool,
    post_work,
    work_body,
)


def _read_back(client: TestClient, finance: Headers, entry: Json) -> Any:
    response = client.get(f"/v1/work-entries/{entry['id']}", headers=finance)
    assert response.status_code == 200, response.text
    return _instants(response.json())


def _instants(entry: Json) -> Json:
    """`started_at` as an instant: a post answers it with the offset it was given (as it always
    did), a read in UTC."""
    started = entry["started_at"]
    return entry | {"started_at": started and datetime.fromisoformat(started)}


def _batch(client: TestClient, finance: Headers, entries: list[Json]) -> list[Json]:
    response = client.post("/v1/work-entries/batch", json={"entries": entries}, headers=finance)
    assert response.status_code == 201, response.text
    items: list[Json] = response.json()["items"]
    return items


def test_posted_responses_are_what_reading_back_gives(
    client: TestClient, finance: Headers, session: Session
) -> None:
    capped = contract_id(client, finance, overage_cap_hours="2")
    pooled = contract_id(client, finance)
    on_demand = contract_id(client, finance, plan=create_plan(client, finance, included_hours="0"))
    assert pool(client, finance, pooled, "2026-03").status_code == 201
    posted = [
        post_work(client, finance, capped, "2026-01-05", 60),  # one allotment
        post_work(client, finance, capped, "2026-01-06", 20 * 60),  # allotment + overage
        post_work(client, finance, capped, "2026-01-07", 3 * 60, approved_overage=True),
        post_work(client, finance, pooled, "2026-03-10", 25 * 60),  # both pooled allotments
        post_work(client, finance, on_demand, "2026-01-08", 50),  # rounded up, on demand
        post_work(
            client, finance, pooled, "2026-02-02", 30, started_at="2026-02-02T21:30:00+01:00"
        ),  # after hours
    ]
    close(session, capped, "2026-01")
    posted.append(post_work(client, finance, capped, "2026-01-20", 45, late=True))
    posted += _batch(
        client,
        finance,
        [
            {"contract_id": capped, **work_body("2026-02-03", 19 * 60)},
            {"contract_id": capped, **work_body("2026-02-04", 2 * 60)},  # 60 + 60 over
            {"contract_id": capped, **work_body("2026-02-05", 90), "approved_overage": True},
            {"contract_id": capped, **work_body("2026-01-21", 15), "late": True},
            {"contract_id": pooled, **work_body("2026-04-01", 15 * 60)},
            {"contract_id": on_demand, **work_body("2026-01-09", 10)},
            {"contract_id": pooled, **work_body("2026-03-11", 60)},
        ],
    )
    sources = {c["source"] for entry in posted for c in entry["coverage"]}
    assert sources == {"allotment", "overage", "on_demand", "late"}
    assert any(len(entry["coverage"]) >= 2 for entry in posted)
    for entry in posted:
        assert _instants(entry) == _read_back(client, finance, entry), entry


def _alerts(session: Session, contract: int) -> list[tuple[Any, ...]]:
    rows = session.scalars(
        select(HoursAlert).where(col(HoursAlert.contract_id) == contract).order_by(HoursAlert.id)
    )
    return [
        (a.scope_start, a.pooled, a.months, a.threshold_percent, a.granted_minutes, a.used_minutes)
        for a in rows
    ]


def test_a_batch_raises_the_alerts_and_overage_posting_one_by_one_does(
    client: TestClient, finance: Headers, session: Session
) -> None:
    """A batch reads the raised alerts and overage totals once and inserts its alerts together:
    each alert still carries the consumption of the entry that crossed it, in the same order."""
    plan = create_plan(client, finance, alert_thresholds_percent=["50", "80", "100"])
    one_by_one, batched = (contract_id(client, finance, plan=plan) for _ in range(2))
    post_work(client, finance, one_by_one, "2026-01-02", 9 * 60)  # 45 %
    post_work(client, finance, batched, "2026-01-02", 9 * 60)
    bodies = [
        work_body("2026-01-05", 2 * 60),  # 55 %: 50
        work_body("2026-01-06", 15),
        work_body("2026-01-07", 8 * 60),  # 95 %: 80
        work_body("2026-01-08", 2 * 60),  # 105 %: 100, then overage
        work_body("2026-01-09", 30),
        work_body("2026-02-02", 20 * 60),  # February: 50, 80 and 100 at once
    ]
    singles = [post_work(client, finance, one_by_one, b["worked_on"], b["minutes"]) for b in bodies]
    together = _batch(client, finance, [{"contract_id": batched, **b} for b in bodies])
    assert [coverage(e) for e in together] == [coverage(e) for e in singles]
    assert len(_alerts(session, one_by_one)) == 6
    assert _alerts(session, batched) == _alerts(session, one_by_one)
    for month in ("2026-01-15T12:00:00Z", "2026-02-15T12:00:00Z"):
        assert balance(client, finance, batched, month) == balance(
            client, finance, one_by_one, month
        ) | {"contract_id": batched}
