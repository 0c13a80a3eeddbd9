"""Unattended month-end (`invoices.runs.auto`) with a controllable clock: a month's run starts
once it has ended everywhere (12:00 UTC on the 1st: midnight in UTC−12), exactly once however
many processes tick, adopts a run someone started by hand, takes over a dead claim, and retries
failed contracts with back-off, a bounded number of times."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app.auto_billing import make_tick
from app.billing import make_biller
from app.settings import Settings
from invoices.runs import auto, flows
from invoices.runs.auto import RETRY_BACKOFF, AutoBillingRun, due_month
from invoices.runs.models import BillingJob, BillingRun
from ledger.base import unit_of_work
from ledger.periods import parse_month
from tests.invoices.billing.helpers import load_dataset, open_database, stored_invoices

FEB_1_NOON = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # January has ended everywhere


@pytest.mark.parametrize(
    ("now", "month"),
    [
        (datetime(2026, 12, 1, 11, 59, 59, tzinfo=UTC), date(2026, 10, 1)),
        (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), date(2026, 11, 1)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2026, 11, 1)),
        (datetime(2027, 1, 1, 12, 0, tzinfo=UTC), date(2026, 12, 1)),
        (datetime(2026, 3, 1, 11, 0, tzinfo=UTC), date(2026, 1, 1)),
    ],
)
def test_a_month_is_due_once_it_has_ended_in_utc_minus_12(now: datetime, month: date) -> None:
    assert due_month(now) == month


@pytest.fixture
def billed(fresh_database: str) -> Iterator[tuple[str, sessionmaker[Session], Any]]:
    data = load_dataset(fresh_database, contracts=3, entries_per_contract=1)
    with open_database(fresh_database) as factory:
        yield fresh_database, factory, data


def _runs(factory: sessionmaker[Session]) -> list[tuple[int, date, str]]:
    with unit_of_work(factory) as session:
        rows = session.execute(
            sa.select(BillingRun.id, BillingRun.period_start, BillingRun.status).order_by(  # type: ignore[call-overload]
                BillingRun.id
            )
        ).all()
    return [tuple(row) for row in rows]


def _work(url: str, factory: sessionmaker[Session]) -> int:
    return flows.work_any(make_biller(Settings(database_url=url), factory), idle_exit=True)


def test_the_due_month_starts_once(billed: tuple[str, sessionmaker[Session], Any]) -> None:
    url, factory, data = billed
    before = FEB_1_NOON - timedelta(seconds=1)
    first = auto.start_due_runs(factory, before, worker="a")  # December 2025: nothing to bill
    assert len(first) == 1
    started = auto.start_due_runs(factory, FEB_1_NOON, worker="a")
    assert len(started) == 1
    assert auto.start_due_runs(factory, FEB_1_NOON, worker="b") == []
    assert auto.start_due_runs(factory, FEB_1_NOON + timedelta(days=20), worker="c") == []
    with open_database(url) as other_process:
        assert auto.start_due_runs(other_process, FEB_1_NOON, worker="d") == []
    _work(url, factory)
    runs = _runs(factory)
    assert [(period, status) for _, period, status in runs] == [
        (date(2025, 12, 1), "completed"),
        (date(2026, 1, 1), "completed"),
    ]
    invoices = stored_invoices(url)
    assert sorted((i.contract_id, i.period) for i in invoices) == sorted(
        (cid, "2026-01") for cid in data.contract_ids
    )
    march = auto.start_due_runs(factory, datetime(2026, 3, 1, 12, tzinfo=UTC), worker="a")
    assert len(march) == 1 and march[0] not in {r[0] for r in runs}


def test_racing_processes_start_one_run(billed: tuple[str, sessionmaker[Session], Any]) -> None:
    url, _, _ = billed
    racers = 6
    barrier = threading.Barrier(racers)
    started: list[int] = []
    errors: list[BaseException] = []

    def race(index: int) -> None:
        try:
            with open_database(url) as factory:
                barrier.wait()
                started.extend(auto.start_due_runs(factory, FEB_1_NOON, worker=f"w{index}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(started) == 1
    with open_database(url) as factory:
        assert [r[0] for r in _runs(factory)] == started


def test_a_run_started_by_hand_is_adopted(billed: tuple[str, sessionmaker[Session], Any]) -> None:
    url, factory, _ = billed
    manual = flows.start_run(factory, parse_month("2026-01"), now=FEB_1_NOON)
    _work(url, factory)
    assert auto.start_due_runs(factory, FEB_1_NOON + timedelta(hours=1), worker="a") == [manual]
    assert [r[0] for r in _runs(factory)] == [manual]


def test_a_dead_claim_is_taken_over_after_its_lease(
    billed: tuple[str, sessionmaker[Session], Any],
) -> None:
    _, factory, _ = billed
    with unit_of_work(factory) as session:
        session.add(
            AutoBillingRun(
                period_start=date(2026, 1, 1),
                claimed_by="died",
                claimed_at=FEB_1_NOON,
            )
        )
    assert auto.start_due_runs(factory, FEB_1_NOON + timedelta(minutes=1), worker="a") == []
    later = FEB_1_NOON + auto.CLAIM_LEASE + timedelta(seconds=1)
    taken = auto.start_due_runs(factory, later, worker="a")
    assert len(taken) == 1
    assert auto.start_due_runs(factory, later + timedelta(hours=1), worker="b") == []
    with unit_of_work(factory) as session:
        row = session.get(AutoBillingRun, date(2026, 1, 1))
        assert row is not None and (row.claimed_by, row.run_id) == ("a", taken[0])


def _finished_at(factory: sessionmaker[Session], run_id: int) -> datetime:
    with unit_of_work(factory) as session:
        run = session.get(BillingRun, run_id)
        assert run is not None and run.finished_at is not None
        return run.finished_at


def test_failed_contracts_are_retried_with_backoff(
    billed: tuple[str, sessionmaker[Session], Any],
) -> None:
    url, factory, data = billed
    broken = data.contract_ids[1]
    # A contract whose billing fails until someone fixes it: a currency with no exponent.
    with unit_of_work(factory) as session:
        currency = session.scalar(
            sa.text("SELECT currency FROM contracts WHERE id = :id"), {"id": broken}
        )
        session.execute(
            sa.text("UPDATE contracts SET currency = 'ZZZ' WHERE id = :id"), {"id": broken}
        )
    (run_id,) = auto.start_due_runs(factory, FEB_1_NOON, worker="a")
    _work(url, factory)
    assert _runs(factory)[-1][2] == "completed_with_failures"

    # Still failing: each retry waits longer, and they stop after the last back-off.
    for backoff in RETRY_BACKOFF:
        finished = _finished_at(factory, run_id)
        assert auto.retry_failed(factory, finished + backoff - timedelta(seconds=1)) == []
        assert auto.retry_failed(factory, finished + backoff) == [run_id]
        assert auto.retry_failed(factory, finished + backoff) == []  # once, by one process
        with unit_of_work(factory) as session:
            jobs = session.execute(
                sa.select(BillingJob.contract_id, BillingJob.status).where(  # type: ignore[call-overload]
                    BillingJob.run_id == run_id, BillingJob.status != "done"
                )
            ).all()
        assert [tuple(j) for j in jobs] == [(broken, "pending")]
        assert _work(url, factory) == 1
    far = _finished_at(factory, run_id) + timedelta(days=30)
    assert auto.retry_failed(factory, far) == []

    # Fixed, and the limit raised by a person: the next retry bills it.
    with unit_of_work(factory) as session:
        session.execute(
            sa.text("UPDATE contracts SET currency = :c WHERE id = :id"),
            {"c": currency, "id": broken},
        )
        row = session.get(AutoBillingRun, date(2026, 1, 1))
        assert row is not None and row.retries == len(RETRY_BACKOFF)
        row.retries = 0
    assert auto.retry_failed(factory, far) == [run_id]
    _work(url, factory)
    assert _runs(factory)[-1][2] == "completed"
    invoices = stored_invoices(url)
    assert sorted(i.contract_id for i in invoices) == sorted(data.contract_ids)


def test_the_worker_loop_ticks(billed: tuple[str, sessionmaker[Session], Any]) -> None:
    url, factory, data = billed
    biller = make_biller(Settings(database_url=url), factory)

    def tick(b: flows.Biller) -> None:
        auto.tick(b.factory, FEB_1_NOON, worker=b.worker)

    assert flows.work_any(biller, idle_exit=True, tick=tick) > 0  # the run it started, worked
    assert flows.work_any(biller, idle_exit=True, tick=tick) == 0
    assert len(stored_invoices(url)) == len(data.contract_ids)


def test_the_hook_stops_asking_once_the_month_is_started(
    billed: tuple[str, sessionmaker[Session], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, factory, _ = billed
    calls: list[str] = []
    real_start = auto.start_due_runs

    def counted(f: Any, now: datetime, *, worker: str) -> list[int]:
        calls.append(worker)
        return real_start(f, now, worker=worker)

    monkeypatch.setattr(auto, "start_due_runs", counted)
    clock = [FEB_1_NOON]
    biller = replace(make_biller(Settings(database_url=url), factory), clock=lambda: clock[0])
    mine, other = make_tick(every=0, retry_every=0), make_tick(every=0, retry_every=0)
    mine(replace(biller, worker="mine"))
    other(replace(biller, worker="other"))  # finds it started: settled too
    for _ in range(3):
        mine(replace(biller, worker="mine"))
        other(replace(biller, worker="other"))
    assert calls == ["mine", "other"]
    assert len(_runs(factory)) == 1
    clock[0] = datetime(2026, 3, 1, 12, tzinfo=UTC)  # February is due
    other(replace(biller, worker="other"))
    mine(replace(biller, worker="mine"))
    assert calls == ["mine", "other", "other", "mine"]
    assert [period for _, period, _ in _runs(factory)] == [date(2026, 1, 1), date(2026, 2, 1)]
