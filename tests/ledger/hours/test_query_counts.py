"""The hot reads stay a handful of queries, whatever the contract's history (issue #12)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.ledger.hours.helpers import Headers, balance, contract_id, post_work


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


def test_a_balance_is_four_queries(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """The token, the contract with its plan, the allotments usable that day, the period's
    overage totals; nothing locked, nothing loaded twice."""
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-05", 60)
    with statements(connection) as seen:
        read = balance(client, finance, contract, "2026-01-15T12:00:00+01:00")
    assert read["remaining_minutes"] == 20 * 60 - 60
    assert len(seen) <= 4, "\n".join(seen)
    assert not any("FOR UPDATE" in s for s in seen)


def test_a_single_post_loads_nothing_twice(
    client: TestClient, finance: Headers, connection: sa.Connection
) -> None:
    """Token; contract and plan locked in one query; closed period; the entry; allotments
    (granted? usable?); its ledger row and totals; the read-back (coverage, months, reversal).
    The alert check reads the allotments consumption just read."""
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-05", 60)
    with statements(connection) as seen:
        post_work(client, finance, contract, "2026-01-06", 60)
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 8, "\n".join(selects)
    assert sum("FROM allotments" in s for s in selects) <= 3, "\n".join(selects)
