"""Shared steps of the rule-by-rule hours tests: everything goes through the HTTP API, except
closing a period (the billing run's job), which calls `close_period` as the run does.

Statements are computed at the real "now" of the service, so a test that reads a statement's
`remaining_minutes`/`expired_minutes` uses a month that has certainly ended (2026-01 … 2026-10)
or a month far in the future (2099); balances are always read at an explicit `at`.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.errors import PROBLEM_JSON
from ledger.contracts.service import lock_contract, plan_of
from ledger.hours.closing import close_period
from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage, WorkEntry
from ledger.periods import parse_month, period_containing
from tests.factories import customer_payload, plan_payload

Headers = dict[str, str]
Json = dict[str, Any]

# Any instant after every period these tests close: close_period only checks it has ended.
CLOSE_NOW = datetime(2200, 1, 1, tzinfo=UTC)


def create_plan(client: TestClient, finance: Headers, **overrides: Any) -> Json:
    response = client.post("/v1/plans", json=plan_payload(**overrides), headers=finance)
    assert response.status_code == 201, response.text
    return response.json()


def create_customer(client: TestClient, finance: Headers, **overrides: Any) -> Json:
    response = client.post("/v1/customers", json=customer_payload(**overrides), headers=finance)
    assert response.status_code == 201, response.text
    return response.json()


def create_contract(
    client: TestClient,
    finance: Headers,
    *,
    plan: Json | None = None,
    customer: Json | None = None,
    **contract: Any,
) -> Json:
    """A contract on SPEC's `business` plan (20 h, 15-min increment, pooling allowed) for a
    Berlin customer, starting 2026-01-01, unless told otherwise."""
    plan = plan or create_plan(client, finance)
    customer = customer or create_customer(client, finance)
    body = {
        "customer_id": customer["id"],
        "plan_code": plan["code"],
        "start_date": "2026-01-01",
        **contract,
    }
    response = client.post("/v1/contracts", json=body, headers=finance)
    assert response.status_code == 201, response.text
    return response.json()


def contract_id(client: TestClient, finance: Headers, **kwargs: Any) -> int:
    return int(create_contract(client, finance, **kwargs)["id"])


def work_body(worked_on: str, minutes: int, **extra: Any) -> Json:
    return {
        "worked_on": worked_on,
        "minutes": minutes,
        "level": 3,
        "ticket_ref": f"T-{worked_on}-{minutes}",
        **extra,
    }


def post_work_response(
    client: TestClient,
    headers: Headers,
    contract: int,
    worked_on: str,
    minutes: int,
    *,
    key: str | None = None,
    **extra: Any,
) -> Any:
    request_headers = dict(headers)
    if key is not None:
        request_headers["Idempotency-Key"] = key
    return client.post(
        f"/v1/contracts/{contract}/work-entries",
        json=work_body(worked_on, minutes, **extra),
        headers=request_headers,
    )


def post_work(
    client: TestClient, headers: Headers, contract: int, worked_on: str, minutes: int, **extra: Any
) -> Json:
    response = post_work_response(client, headers, contract, worked_on, minutes, **extra)
    assert response.status_code == 201, response.text
    return response.json()


def reverse(client: TestClient, headers: Headers, work_entry_id: int, **kwargs: Any) -> Any:
    return client.post(f"/v1/work-entries/{work_entry_id}/reversal", headers=headers, **kwargs)


def statement(client: TestClient, headers: Headers, contract: int, month: str) -> Json:
    response = client.get(
        f"/v1/contracts/{contract}/statement", params={"month": month}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def balance(client: TestClient, headers: Headers, contract: int, at: str) -> Json:
    response = client.get(f"/v1/contracts/{contract}/balance", params={"at": at}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def pool(client: TestClient, finance: Headers, contract: int, first_month: str) -> Any:
    return client.post(
        f"/v1/contracts/{contract}/pools", json={"first_month": first_month}, headers=finance
    )


def undo_pool(client: TestClient, finance: Headers, contract: int, first_month: str) -> Any:
    return client.delete(f"/v1/contracts/{contract}/pools/{first_month}", headers=finance)


def list_entries(
    client: TestClient, headers: Headers, contract: int, month: str | None = None
) -> list[Json]:
    """Every work entry of the contract (optionally of one month), following the cursor."""
    items: list[Json] = []
    params: dict[str, Any] = {"limit": 200}
    if month is not None:
        params["month"] = month
    while True:
        response = client.get(
            f"/v1/contracts/{contract}/work-entries", params=params, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


def close(session: Session, contract: int, month: str) -> None:
    """What the billing run does for the period containing `month`."""
    locked = lock_contract(session, contract)
    plan = plan_of(session, locked)
    close_period(
        session, locked, plan, period_containing(parse_month(month), plan.period), now=CLOSE_NOW
    )
    session.flush()


def coverage(entry: Json) -> list[tuple[str, tuple[str, ...] | None, int]]:
    """An entry's coverage as (source, months, minutes), in the API's order."""
    return [
        (c["source"], tuple(c["months"]) if c["months"] is not None else None, c["minutes"])
        for c in entry["coverage"]
    ]


def assert_problem(
    response: Any, status: int, *, title: str | None = None, mentions: str | None = None
) -> Json:
    """An RFC 9457 problem with this status; `mentions` must appear in its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body = response.json()
    assert body["status"] == status
    assert body["detail"], body
    if title is not None:
        assert body["title"] == title, body
    if mentions is not None:
        assert mentions.lower() in body["detail"].lower(), body
    return body


def error_fields(body: Json) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


def ledger_rows(session: Session, work_entry_id: int) -> Counter[tuple[str, str | None]]:
    """How many ledger rows of each (kind, rate) a work entry wrote."""
    rows = session.execute(
        select(col(LedgerEntry.kind), col(LedgerEntry.rate)).where(
            col(LedgerEntry.work_entry_id) == work_entry_id
        )
    ).all()
    return Counter((kind, rate) for kind, rate in rows)


def assert_ledger_balances(session: Session, contract: int) -> None:
    """SPEC's invariant, from the rows themselves: for every allotment the running totals are
    the sums of its ledger rows, granted = used + expired + remaining; for every period the
    overage totals are the sums of its overage rows; billable = used + overage."""
    session.expire_all()

    def total(*conditions: Any) -> int:
        value = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.minutes), 0)).where(
                col(LedgerEntry.contract_id) == contract, *conditions
            )
        )
        return int(value or 0)

    for allotment in session.scalars(
        select(Allotment).where(col(Allotment.contract_id) == contract)
    ):
        mine = col(LedgerEntry.allotment_id) == allotment.id
        granted = total(mine, col(LedgerEntry.kind) == "grant")
        used = total(mine, col(LedgerEntry.kind) == "use")
        expired = total(mine, col(LedgerEntry.kind) == "expire")
        assert (allotment.granted_minutes, allotment.used_minutes, allotment.expired_minutes) == (
            granted,
            used,
            expired,
        ), allotment
        assert allotment.remaining_minutes == granted - used - expired >= 0, allotment
    for totals in session.scalars(
        select(PeriodOverage).where(col(PeriodOverage.contract_id) == contract)
    ):
        for rate in ("overage", "on_demand", "late"):
            rows = total(
                col(LedgerEntry.kind) == "overage",
                col(LedgerEntry.rate) == rate,
                col(LedgerEntry.period_start) == totals.period_start,
            )
            assert getattr(totals, f"{rate}_minutes") == rows, (totals, rate)
    billable = session.scalar(
        select(func.coalesce(func.sum(WorkEntry.billable_minutes), 0)).where(
            col(WorkEntry.contract_id) == contract
        )
    )
    used_and_overage = total(col(LedgerEntry.kind).in_(["use", "overage"]))
    assert int(billable or 0) == used_and_overage


def day(text: str) -> date:
    return date.fromisoformat(text)
