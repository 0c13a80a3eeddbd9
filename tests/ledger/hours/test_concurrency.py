"""Concurrent writers on one contract: the database settles them, and the ledger balances.

Every test here commits for real, from many connections at once, in a database of its own
(`fresh_database`). PostgreSQL serialises per contract with `SELECT … FOR UPDATE`; SQLite runs
one writer at a time (`BEGIN IMMEDIATE`). Threads start together behind a `threading.Barrier`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.auth.tokens import Role, create_token
from app.db import make_engine, session_factory, unit_of_work
from app.main import create_app
from app.settings import Settings
from ledger.contracts.service import lock_contract, plan_of
from ledger.hours.closing import close_period
from ledger.hours.errors import PeriodClosed
from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage, Pool, WorkEntry
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from ledger.periods import month_period
from tests.factories import create_contract, create_plan
from tests.ledger.hours.invariants import assert_ledger_consistent

WRITERS = 50
MINUTES = 60
INCLUDED = 20 * 60
WORKED_ON = date(2026, 1, 10)
JANUARY = date(2026, 1, 1)
REPLAYED = "Idempotent-Replayed"

T = TypeVar("T")


@contextmanager
def engine_for(url: str, **kwargs: Any) -> Iterator[Engine]:
    engine = make_engine(url, **kwargs)
    try:
        yield engine
    finally:
        engine.dispose()


def sign_contract(url: str) -> tuple[int, str]:
    """A committed 20 h / 15 min contract from 2026-01-01, and a finance token."""
    with (
        engine_for(url, poolclass=sa.NullPool) as engine,
        unit_of_work(session_factory(engine)) as session,
    ):
        plan = create_plan(session, included_hours="20", billing_increment_minutes=15)
        contract = create_contract(session, plan=plan)
        _, token = create_token(session, role=Role.FINANCE, name="concurrency")
        assert contract.id is not None
        return contract.id, token


def all_at_once(count: int, task: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run `task(i, barrier)` in `count` threads; each waits on the barrier before its write."""
    barrier = threading.Barrier(count, timeout=120)
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(task, i, barrier) for i in range(count)]
        return [future.result(timeout=300) for future in futures]


def work(i: int) -> WorkEntryCreate:
    return WorkEntryCreate(worked_on=WORKED_ON, minutes=MINUTES, level=3, ticket_ref=f"T-{i}")


def post_through_the_service(url: str, contract_id: int) -> list[int]:
    """Each thread has an engine and a connection of its own, opened before the barrier."""

    def task(i: int, barrier: threading.Barrier) -> int:
        with engine_for(url, pool_size=1, max_overflow=0) as engine:
            engine.connect().close()  # the connection is open and pooled before the race
            barrier.wait()
            with unit_of_work(session_factory(engine)) as session:
                entry = post_work(session, contract_id, work(i))
                assert entry.id is not None
                return entry.id

    return all_at_once(WRITERS, task)


def assert_fifty_hours_settled(url: str, contract_id: int, entry_ids: list[int]) -> None:
    """20 h from the allotment, 30 h overage; the first 20 writers (by id: ids are drawn under
    the contract lock) got the allotment, whole."""
    with engine_for(url, poolclass=sa.NullPool) as engine, Session(engine) as session:
        entries = session.scalars(
            select(WorkEntry).where(col(WorkEntry.contract_id) == contract_id)
        ).all()
        assert len(entries) == WRITERS
        assert sorted(e.id for e in entries) == sorted(entry_ids)
        allotments = session.scalars(
            select(Allotment).where(col(Allotment.contract_id) == contract_id)
        ).all()
        january = next(a for a in allotments if a.period_start == JANUARY)
        assert (january.granted_minutes, january.used_minutes, january.remaining_minutes) == (
            INCLUDED,
            INCLUDED,
            0,
        )
        assert len([a for a in allotments if a.period_start == JANUARY]) == 1
        totals = session.scalar(
            select(PeriodOverage).where(
                col(PeriodOverage.contract_id) == contract_id,
                col(PeriodOverage.period_start) == JANUARY,
            )
        )
        assert totals is not None
        assert totals.overage_minutes == WRITERS * MINUTES - INCLUDED == 1800
        assert (totals.on_demand_minutes, totals.late_minutes) == (0, 0)
        kinds = Counter(
            (row.kind, row.work_entry_id)
            for row in session.scalars(
                select(LedgerEntry).where(
                    col(LedgerEntry.contract_id) == contract_id,
                    col(LedgerEntry.kind).in_(["use", "overage"]),
                )
            )
        )
        covered = sorted(entry_id for kind, entry_id in kinds if kind == "use")
        uncovered = sorted(entry_id for kind, entry_id in kinds if kind == "overage")
        assert covered == sorted(entry_ids)[: INCLUDED // MINUTES]
        assert uncovered == sorted(entry_ids)[INCLUDED // MINUTES :]
        assert_ledger_consistent(session, contract_id)


@pytest.mark.postgres_only
def test_fifty_parallel_posts_through_the_service_postgresql(
    db_kind: str, fresh_database: str
) -> None:
    contract_id, _ = sign_contract(fresh_database)
    ids = post_through_the_service(fresh_database, contract_id)
    assert_fifty_hours_settled(fresh_database, contract_id, ids)


def test_fifty_parallel_posts_through_the_service_sqlite(db_kind: str, fresh_database: str) -> None:
    """SQLite's one writer at a time holds the same way, with a connection per thread."""
    if db_kind != "sqlite":
        pytest.skip(
            "the PostgreSQL run is test_fifty_parallel_posts_through_the_service_postgresql"
        )
    contract_id, _ = sign_contract(fresh_database)
    ids = post_through_the_service(fresh_database, contract_id)
    assert_fifty_hours_settled(fresh_database, contract_id, ids)


# ---------------------------------------------------------------------------------------------
# Through the HTTP app: the request path (auth, idempotency claim, unit of work) is safe too


@contextmanager
def real_app(url: str) -> Iterator[Any]:
    """The production app on a real database: every request commits its own transaction.
    The pool is big enough for every writer to hold a connection at the same time."""
    with engine_for(url, pool_size=WRITERS + 10, max_overflow=10) as engine:
        yield create_app(Settings(database_url=url), engine=engine)


def post_entry(
    client: TestClient,
    token: str,
    contract_id: int,
    i: int,
    *,
    key: str | None = None,
    worked_on: date = WORKED_ON,
    minutes: int = MINUTES,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"worked_on": worked_on.isoformat(), "minutes": minutes, "level": 3}
    return client.post(
        f"/v1/contracts/{contract_id}/work-entries",
        json=body | {"ticket_ref": f"T-{i}"},
        headers=headers,
    )


@pytest.mark.postgres_only
def test_fifty_parallel_posts_through_the_http_app(db_kind: str, fresh_database: str) -> None:
    contract_id, token = sign_contract(fresh_database)
    with real_app(fresh_database) as app:

        def task(i: int, barrier: threading.Barrier) -> httpx.Response:
            client = TestClient(app)
            barrier.wait()
            return post_entry(client, token, contract_id, i, key=f"parallel-{i}")

        responses = all_at_once(WRITERS, task)
    assert [r.status_code for r in responses] == [201] * WRITERS, [
        r.text for r in responses if r.status_code != 201
    ]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == WRITERS
    assert_fifty_hours_settled(fresh_database, contract_id, ids)


def test_same_idempotency_key_racing_writes_one_entry(db_kind: str, fresh_database: str) -> None:
    """Two identical requests with one key, at the same instant, many times over: one entry per
    key; the other request is the replay (201, same id) or refused as in flight (409)."""
    contract_id, token = sign_contract(fresh_database)
    rounds = 15
    outcomes: Counter[str] = Counter()
    with real_app(fresh_database) as app:
        for round_ in range(rounds):
            key = f"race-{round_}"

            def task(
                _: int, barrier: threading.Barrier, key: str = key, ticket: int = round_
            ) -> httpx.Response:
                client = TestClient(app)
                barrier.wait()
                return post_entry(client, token, contract_id, ticket, key=key)

            first, second = all_at_once(2, task)
            fresh = [
                r for r in (first, second) if r.status_code == 201 and REPLAYED not in r.headers
            ]
            assert len(fresh) == 1, [
                (r.status_code, dict(r.headers), r.text) for r in (first, second)
            ]
            other = second if fresh[0] is first else first
            if other.status_code == 201:
                assert other.headers[REPLAYED] == "true"
                assert other.json() == fresh[0].json()
                outcomes["replayed"] += 1
            else:
                assert other.status_code == 409, other.text
                assert "in progress" in other.json()["detail"]
                outcomes["in flight"] += 1
            # Afterwards the key replays the one entry, whatever the race gave.
            again = post_entry(TestClient(app), token, contract_id, round_, key=key)
            assert (again.status_code, again.headers.get(REPLAYED)) == (201, "true")
            assert again.json()["id"] == fresh[0].json()["id"]
    with engine_for(fresh_database, poolclass=sa.NullPool) as engine, Session(engine) as session:
        per_ticket = Counter(
            session.scalars(
                select(WorkEntry.ticket_ref).where(col(WorkEntry.contract_id) == contract_id)
            )
        )
        assert per_ticket == {f"T-{r}": 1 for r in range(rounds)}
        assert_ledger_consistent(session, contract_id)
    assert sum(outcomes.values()) == rounds


def test_two_pool_creations_for_the_same_months_one_wins(db_kind: str, fresh_database: str) -> None:
    contract_id, token = sign_contract(fresh_database)
    with real_app(fresh_database) as app:
        # Some work first, so the winner re-consumes while the loser waits on the lock.
        for i, day in enumerate((date(2026, 2, 3), date(2026, 3, 3), date(2026, 5, 3))):
            response = post_entry(
                TestClient(app), token, contract_id, i, worked_on=day, minutes=900
            )
            assert response.status_code == 201, response.text
        for month in ("2026-02", "2026-04", "2026-06"):

            def task(i: int, barrier: threading.Barrier, month: str = month) -> httpx.Response:
                client = TestClient(app)
                barrier.wait()
                return client.post(
                    f"/v1/contracts/{contract_id}/pools",
                    json={"first_month": month},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"{month}-{i}"},
                )

            responses = all_at_once(2, task)
            assert sorted(r.status_code for r in responses) == [201, 409], [
                r.text for r in responses
            ]
            loser = next(r for r in responses if r.status_code == 409)
            assert loser.json()["title"] == "Pooling refused"

        def undo(_: int, barrier: threading.Barrier) -> httpx.Response:
            client = TestClient(app)
            barrier.wait()
            return client.delete(
                f"/v1/contracts/{contract_id}/pools/2026-04",
                headers={"Authorization": f"Bearer {token}"},
            )

        assert sorted(r.status_code for r in all_at_once(2, undo)) == [204, 404]
    with engine_for(fresh_database, poolclass=sa.NullPool) as engine, Session(engine) as session:
        pools = session.scalars(select(Pool).where(col(Pool.contract_id) == contract_id)).all()
        assert sorted((p.first_month.isoformat(), p.undone_at is None) for p in pools) == [
            ("2026-02-01", True),
            ("2026-04-01", False),
            ("2026-06-01", True),
        ]
        assert_ledger_consistent(session, contract_id)


def test_mixed_writers_on_two_contracts_keep_both_ledgers_consistent(
    db_kind: str, fresh_database: str
) -> None:
    """Posts, batches across both contracts (in both orders), reversals, pools, undos and
    balances, from many threads at once: only answers a client can act on (never a 5xx or a
    deadlock), and both ledgers balance at the end."""
    first, token = sign_contract(fresh_database)
    second, _ = sign_contract(fresh_database)
    contracts = (first, second)
    posted: list[int] = []
    posted_lock = threading.Lock()
    threads, steps = 10, 12
    auth = {"Authorization": f"Bearer {token}"}

    def body(rng: random.Random, i: int) -> dict[str, Any]:
        day = date(2026, rng.randint(1, 4), rng.randint(1, 28))
        return {
            "worked_on": day.isoformat(),
            "minutes": rng.choice([15, 60, 240, 600]),
            "level": rng.randint(1, 4),
            "ticket_ref": f"M-{i}",
        }

    def remember(action: str, response: httpx.Response) -> None:
        if action in ("post", "batch") and response.status_code == 201:
            payload = response.json()
            items = payload.get("items", [payload])
            with posted_lock:
                posted.extend(item["id"] for item in items)

    with real_app(fresh_database) as app:

        def task(worker: int, barrier: threading.Barrier) -> Counter[str]:
            rng = random.Random(worker)
            client = TestClient(app)
            seen: Counter[str] = Counter()
            barrier.wait()
            for step in range(steps):
                i = worker * 100 + step
                contract = rng.choice(contracts)
                action = rng.choice(["post", "post", "batch", "reverse", "pool", "undo", "balance"])
                key = {"Idempotency-Key": f"mixed-{i}"}
                if action == "post":
                    response = client.post(
                        f"/v1/contracts/{contract}/work-entries",
                        json=body(rng, i),
                        headers=auth | key,
                    )
                elif action == "batch":
                    order = rng.choice([contracts, contracts[::-1]])
                    entries = [body(rng, i) | {"contract_id": c} for c in (*order, order[0])]
                    response = client.post(
                        "/v1/work-entries/batch", json={"entries": entries}, headers=auth | key
                    )
                elif action == "reverse":
                    with posted_lock:
                        target = rng.choice(posted) if posted else None
                    if target is None:
                        continue
                    response = client.post(
                        f"/v1/work-entries/{target}/reversal", headers=auth | key
                    )
                elif action == "pool":
                    response = client.post(
                        f"/v1/contracts/{contract}/pools",
                        json={"first_month": rng.choice(["2026-02", "2026-03"])},
                        headers=auth | key,
                    )
                elif action == "undo":
                    month = rng.choice(["2026-02", "2026-03"])
                    response = client.delete(
                        f"/v1/contracts/{contract}/pools/{month}", headers=auth
                    )
                else:
                    response = client.get(
                        f"/v1/contracts/{contract}/balance?at=2026-02-15T12:00:00Z", headers=auth
                    )
                assert response.status_code in {200, 201, 204, 404, 409}, (
                    action,
                    response.status_code,
                    response.text,
                )
                remember(action, response)
                seen[f"{action} {response.status_code}"] += 1
            return seen

        tallies = all_at_once(threads, task)
    seen = sum(tallies, Counter())
    assert seen[f"post {201}"] and seen[f"batch {201}"], seen
    with engine_for(fresh_database, poolclass=sa.NullPool) as engine, Session(engine) as session:
        for contract in contracts:
            assert_ledger_consistent(session, contract)


def test_parallel_reversals_of_one_entry_write_one_reversal(
    db_kind: str, fresh_database: str
) -> None:
    contract_id, token = sign_contract(fresh_database)
    with real_app(fresh_database) as app:
        entry = post_entry(TestClient(app), token, contract_id, 0, minutes=900)
        assert entry.status_code == 201, entry.text

        def task(i: int, barrier: threading.Barrier) -> httpx.Response:
            client = TestClient(app)
            barrier.wait()
            return client.post(
                f"/v1/work-entries/{entry.json()['id']}/reversal",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"undo-{i}"},
            )

        statuses = Counter(r.status_code for r in all_at_once(10, task))
    assert statuses == {201: 1, 409: 9}, statuses
    with engine_for(fresh_database, poolclass=sa.NullPool) as engine, Session(engine) as session:
        kinds = Counter(
            session.scalars(select(WorkEntry.kind).where(col(WorkEntry.contract_id) == contract_id))
        )
        assert kinds == {"work": 1, "reversal": 1}
        assert_ledger_consistent(session, contract_id)


def test_closing_a_period_while_work_for_it_is_posted(db_kind: str, fresh_database: str) -> None:
    """The billing run closes January while 30 writers post January work: each post lands
    wholly before the close (and draws on January) or is refused as invoiced; the close
    expires exactly what was left."""
    contract_id, _ = sign_contract(fresh_database)
    writers = 30

    def task(i: int, barrier: threading.Barrier) -> str:
        with engine_for(fresh_database, pool_size=1, max_overflow=0) as engine:
            engine.connect().close()
            barrier.wait()
            try:
                with unit_of_work(session_factory(engine)) as session:
                    if i == writers // 2:
                        contract = lock_contract(session, contract_id)
                        close_period(
                            session,
                            contract,
                            plan_of(session, contract),
                            month_period(JANUARY),
                            now=datetime(2026, 2, 1, tzinfo=UTC),
                        )
                        return "closed"
                    post_work(session, contract_id, work(i))
                    return "posted"
            except PeriodClosed:
                return "refused"

    outcomes = Counter(all_at_once(writers + 1, task))
    assert outcomes["closed"] == 1
    assert outcomes["posted"] + outcomes["refused"] == writers
    with engine_for(fresh_database, poolclass=sa.NullPool) as engine, Session(engine) as session:
        january = session.scalar(
            select(Allotment).where(
                col(Allotment.contract_id) == contract_id, col(Allotment.period_start) == JANUARY
            )
        )
        assert january is not None and january.closed
        used = min(outcomes["posted"] * MINUTES, INCLUDED)
        assert (january.used_minutes, january.expired_minutes, january.remaining_minutes) == (
            used,
            INCLUDED - used,
            0,
        )
        count = session.scalar(
            select(sa.func.count())
            .select_from(WorkEntry)
            .where(col(WorkEntry.contract_id) == contract_id)
        )
        assert count == outcomes["posted"]
        assert_ledger_consistent(session, contract_id)
