"""The hot reads stay a handful of queries, whatever the contract's history (issue #12)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from ledger.base import utcnow
from ledger.hours.models import Allotment
from ledger.periods import add_months
from tests.ledger.hours.helpers import (
    Headers,
    balance,
    contract_id,
    create_plan,
    post_work,
    work_body,
)


@contextmanager
def statements(connection: sa.Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def test_a_balance_is_two_queries(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """The token, and one query for the contract with its plan, the allotments usable that
    day, the latest grant and the period's overage totals; nothing locked, nothing loaded
    twice."""
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-05", 60)
    with statements(connection) as seen:
        read = balance(client, finance, contract, "2026-01-15T12:00:00+01:00")
    assert read["remaining_minutes"] == 20 * 60 - 60
    assert len(seen) == 2, "\n".join(seen)
    assert not any("FOR UPDATE" in s for s in seen)


def test_a_balance_costs_the_same_queries_however_long_the_ledger(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """From 10 entries in one month to 200 over eleven months, a balance runs the same two
    statements: it reads running totals, never the ledger, and nothing per month granted."""
    contract = contract_id(client, finance)

    def add(months: range, per_month: int) -> None:
        entries = [
            {"contract_id": contract, **work_body(f"2026-{month:02d}-{1 + n:02d}", 15)}
            for month in months
            for n in range(per_month)
        ]
        response = client.post("/v1/work-entries/batch", json={"entries": entries}, headers=finance)
        assert response.status_code == 201, response.text

    def read() -> tuple[list[str], dict[str, Any]]:
        with statements(connection) as seen:
            body = balance(client, finance, contract, "2026-11-20T12:00:00+01:00")
        return seen, body

    add(range(11, 12), 10)
    few, small = read()
    add(range(1, 12), 18)  # 190 more: 200 entries over eleven months
    many, large = read()
    assert len(few) == len(many) == 2, "\n".join(many)
    assert few == many
    assert not any("ledger_entries" in s or "work_entries" in s for s in many)
    assert small["remaining_minutes"] == 20 * 60 - 10 * 15
    assert large["remaining_minutes"] == 20 * 60 - 28 * 15


def test_a_balance_of_a_period_not_granted_yet_is_two_queries(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """A period nobody has granted is shown pending, from the same one query."""
    contract = contract_id(client, finance, start_date="2026-01-01")
    next_month = add_months(utcnow().date().replace(day=1), 1)
    granted = select(func.max(Allotment.period_start)).where(Allotment.contract_id == contract)
    assert (connection.scalar(granted) or date.min) < next_month  # pending, not granted
    with statements(connection) as seen:
        read = balance(client, finance, contract, f"{next_month.isoformat()}T12:00:00Z")
    assert len(seen) == 2, "\n".join(seen)
    assert read["allotments"] and read["remaining_minutes"] == 20 * 60


def test_a_single_post_is_six_statements(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """Token; contract and plan locked in one query; its closed period, latest grant and usable
    allotments in one more; the entry; its ledger rows; the allotment's running totals. The
    response is built from what was written: no read-back."""
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-05", 60)
    with statements(connection) as seen:
        post_work(client, finance, contract, "2026-01-06", 60)
    assert len(seen) <= 6, "\n".join(seen)
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 3, "\n".join(selects)
    assert sum("allotments" in s for s in selects) <= 1, "\n".join(selects)


def _batch(client: TestClient, finance: Headers, contracts: list[int], per_contract: int) -> None:
    entries = [
        {"contract_id": contract, **work_body(f"2026-01-{10 + n:02d}", 30)}
        for contract in contracts
        for n in range(per_contract)
    ]
    response = client.post("/v1/work-entries/batch", json={"entries": entries}, headers=finance)
    assert response.status_code == 201, response.text
    assert len(response.json()["items"]) == len(entries)


def test_a_batch_costs_the_same_statements_for_any_number_of_contracts(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """Token; every contract locked in one query; latest grants, closed periods, allotments:
    one query each; the entries, their ledger rows, the allotments' totals: one statement
    each; the alerts already raised and the periods' overage totals: one query each. Not one
    more per contract or per entry, and no read-back."""
    plan = create_plan(client, finance, alert_thresholds_percent=["50", "95"])
    contracts = [contract_id(client, finance, plan=plan) for _ in range(6)]
    for contract in contracts:
        # Granted (no grant below) and past 50 %: every entry below checks its thresholds.
        post_work(client, finance, contract, "2026-01-05", 11 * 60)
    with statements(connection) as few:
        _batch(client, finance, contracts[:2], 2)
    with statements(connection) as many:
        _batch(client, finance, contracts, 5)
    reads = [
        # Writes (an INSERT, or on PostgreSQL a COPY for a batch of many rows) left out.
        [
            s
            for s in seen
            if not s.lstrip().upper().startswith(("INSERT", "COPY")) and "nextval" not in s
        ]
        for seen in (few, many)
    ]
    assert len(reads[0]) == len(reads[1]) <= 8, "\n".join(reads[1])
    if connection.dialect.name == "postgresql":  # SQLite inserts row by row, ids in order
        # The entries' and the ledger rows' ids are reserved in one query each
        # (`ledger.bulk.insert_rows_ids`).
        reserved = [[s for s in seen if "nextval" in s] for seen in (few, many)]
        assert len(reserved[0]) == len(reserved[1]) == 2, "\n".join(many)
        assert len(many) == len(few) <= 12, "\n".join(many)


@contextmanager
def statements_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SELECT and INSERT statement object constructed meanwhile (sqlmodel's `select`
    included)."""
    built: list[str] = []
    with monkeypatch.context() as patch:
        for kind in (sa.Select, sa.Insert):
            construct = kind.__init__

            def counting(self: Any, *args: Any, _construct: Any = construct, **kwargs: Any) -> None:
                _construct(self, *args, **kwargs)
                built.append(f"{type(self).__name__}{repr(args)[:200]}")

            patch.setattr(kind, "__init__", counting)
        yield built


def test_a_single_post_builds_none_of_its_queries(
    client: TestClient,
    finance: Headers,
    connection: sa.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Building a statement cost more CPU than PostgreSQL spent running it (issue #12): the
    contract lock, the allotments' lookup, the period's overage totals, the alerts already
    raised and the ledger rows' INSERT are built once, then only bound. (At most the token
    lookup is built per request.)
    This post runs into overage and past thresholds: every one of those queries runs."""
    plan = create_plan(client, finance, alert_thresholds_percent=["50", "95"])
    contract = contract_id(client, finance, plan=plan, overage_cap_hours="10")
    post_work(client, finance, contract, "2026-01-05", 11 * 60)
    post_work(client, finance, contract, "2026-01-06", 10 * 60)
    with statements(connection) as seen, statements_built(monkeypatch) as built:
        read = post_work(client, finance, contract, "2026-01-07", 60)
    assert [(c["source"], c["minutes"]) for c in read["coverage"]] == [("overage", 60)], read
    assert any("period_overages" in s and s.lstrip().startswith("SELECT") for s in seen)
    assert any("hours_alerts" in s and s.lstrip().startswith("SELECT") for s in seen)
    assert len(built) <= 1, "\n".join(built)
