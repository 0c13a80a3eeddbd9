"""Closing many periods at once (`bulk_closing.close_periods`, what a billing chunk does) writes
exactly the rows `close_period` writes for each contract: the same ledger rows in the same
order, the same allotments and running totals, the same closed periods.

Every scenario is built twice, on twin contracts: one is closed by `close_period`, the other
with the rest of the chunk; then their rows are compared with the ids taken out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.contracts.service import lock_contract, plan_of
from ledger.hours.bulk_closing import ToClose, close_periods
from ledger.hours.closing import close_period
from ledger.hours.models import Allotment, ClosedPeriod, LedgerEntry
from ledger.periods import month_period, parse_month
from tests.ledger.hours.helpers import (
    CLOSE_NOW,
    Headers,
    assert_ledger_balances,
    contract_id,
    create_plan,
    pool,
    post_work,
)

Scenario = Callable[[TestClient, Headers], int]


def _plain(client: TestClient, finance: Headers) -> int:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-05", 300)
    return contract


def _prorated(client: TestClient, finance: Headers) -> int:
    contract = contract_id(client, finance, start_date="2026-01-12")
    post_work(client, finance, contract, "2026-01-20", 45)
    return contract


def _used_up_with_overage(client: TestClient, finance: Headers) -> int:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-05", 1200)
    post_work(client, finance, contract, "2026-01-06", 90)
    return contract


def _ends_with_the_month(client: TestClient, finance: Headers) -> int:
    contract = contract_id(client, finance, end_date="2026-01-31")
    post_work(client, finance, contract, "2026-01-07", 60)
    return contract


def _ends_mid_next_month(client: TestClient, finance: Headers) -> int:
    return contract_id(client, finance, end_date="2026-02-10")


def _pooled(client: TestClient, finance: Headers) -> int:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-01").status_code == 201
    post_work(client, finance, contract, "2026-01-08", 120)
    return contract


def _far_zone(client: TestClient, finance: Headers) -> int:
    customer = client.post(
        "/v1/customers",
        json={
            "name": "Kiritimati Ltd",
            "email": "billing@kiritimati.example",
            "country": "DE",
            "timezone": "Pacific/Kiritimati",
            "holiday_region": "DE-BE",
        },
        headers=finance,
    ).json()
    contract = contract_id(client, finance, customer=customer)
    post_work(client, finance, contract, "2026-01-31", 30)
    return contract


def _no_hours_plan(client: TestClient, finance: Headers) -> int:
    plan = create_plan(client, finance, included_hours="0")
    return contract_id(client, finance, plan=plan)


SCENARIOS: list[Scenario] = [
    _plain,
    _prorated,
    _used_up_with_overage,
    _ends_with_the_month,
    _ends_mid_next_month,
    _pooled,
    _far_zone,
    _no_hours_plan,
]


def _rows(session: Session, contract: int) -> dict[str, Any]:
    """A contract's ledger, allotments and closed periods, ids replaced by what they point at."""
    session.expire_all()
    allotments = session.scalars(
        select(Allotment).where(col(Allotment.contract_id) == contract).order_by(col(Allotment.id))
    ).all()
    by_id = {a.id: a.period_start for a in allotments}
    entries = session.scalars(
        select(LedgerEntry)
        .where(col(LedgerEntry.contract_id) == contract)
        .order_by(col(LedgerEntry.id))
    ).all()
    entry_of = {e.id: (e.kind, e.minutes, e.period_start) for e in entries}
    return {
        "ledger": [
            (
                e.kind,
                e.minutes,
                e.period_start,
                by_id.get(e.allotment_id),
                e.work_entry_id is not None,
                e.rate,
                e.reason,
            )
            for e in entries
        ],
        "allotments": [
            (
                a.period_start,
                a.period_end,
                a.valid_from,
                a.valid_until,
                a.expires_at,
                a.pool_first_month,
                a.granted_minutes,
                a.used_minutes,
                a.expired_minutes,
                a.remaining_minutes,
                a.closed,
                entry_of.get(a.last_entry_id) if a.last_entry_id is not None else None,
            )
            for a in allotments
        ],
        "closed": sorted(
            (c.period_start, c.period_end)
            for c in session.scalars(
                select(ClosedPeriod).where(col(ClosedPeriod.contract_id) == contract)
            )
        ),
    }


def _close_one(session: Session, contract: int, month: str) -> None:
    locked = lock_contract(session, contract)
    close_period(
        session, locked, plan_of(session, locked), month_period(parse_month(month)), now=CLOSE_NOW
    )
    session.flush()


def _close_together(session: Session, contracts: list[int], month: str) -> set[int]:
    items = []
    for contract in contracts:
        locked = lock_contract(session, contract)
        items.append(ToClose(locked, plan_of(session, locked), month_period(parse_month(month))))
    return close_periods(session, items, now=CLOSE_NOW)


def test_closing_a_chunk_writes_what_close_period_writes(
    client: TestClient, finance: Headers, session: Session
) -> None:
    singles = [scenario(client, finance) for scenario in SCENARIOS]
    twins = [scenario(client, finance) for scenario in SCENARIOS]
    for month in ("2026-01", "2026-02"):
        for contract in singles:
            _close_one(session, contract, month)
        closed = _close_together(session, twins, month)
        # Contracts without an allotment of their own for the period are left to close_period.
        for contract in set(twins) - closed:
            _close_one(session, contract, month)
        assert closed, month
    for single, twin, scenario in zip(singles, twins, SCENARIOS, strict=True):
        assert _rows(session, twin) == _rows(session, single), scenario.__name__
        assert_ledger_balances(session, twin)
    assert _close_together(session, twins, "2026-02") == set()  # closed already: nothing more


def test_a_period_that_has_not_ended_is_left_alone(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = _plain(client, finance)
    before = _rows(session, contract)
    locked = lock_contract(session, contract)
    item = ToClose(locked, plan_of(session, locked), month_period(parse_month("2026-01")))
    assert close_periods(session, [item], now=datetime(2026, 1, 31, 12, tzinfo=UTC)) == set()
    assert _rows(session, contract) == before


def test_a_chunks_new_allotments_go_in_with_their_totals(
    client: TestClient, finance: Headers, session: Session, connection: sa.Connection
) -> None:
    """On PostgreSQL every id is drawn in one statement and a new allotment is inserted with
    the totals its grant gives it: the one UPDATE touches only the allotments that closed
    (issue #12: the chunk's new allotments were inserted, then updated)."""
    contracts = [_plain(client, finance) for _ in range(10)]
    items = []
    for contract in contracts:
        locked = lock_contract(session, contract)
        items.append(
            ToClose(locked, plan_of(session, locked), month_period(parse_month("2026-01")))
        )
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    postgres = connection.dialect.name == "postgresql"
    updated = sa.text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'allotments'")
    before = session.scalar(updated) if postgres else None
    event.listen(connection, "before_cursor_execute", record)
    try:
        assert close_periods(session, items, now=CLOSE_NOW) == set(contracts)
    finally:
        event.remove(connection, "before_cursor_execute", record)
    if postgres:
        assert session.scalar(updated) - before == len(contracts)  # the January allotments
        assert sum("nextval" in s for s in sent) == 1, "\n".join(sent)
    for contract in contracts:
        assert_ledger_balances(session, contract)
        february = session.scalars(
            select(Allotment).where(
                col(Allotment.contract_id) == contract,
                col(Allotment.period_start) == parse_month("2026-02"),
            )
        ).one()
        grant = session.get(LedgerEntry, february.last_entry_id)
        assert grant is not None and grant.kind == "grant"
        assert february.granted_minutes == february.remaining_minutes == grant.minutes > 0
