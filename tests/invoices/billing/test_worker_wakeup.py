"""A standing worker starts a run the moment it is committed (issue #12), not at its next poll.

`flows.start_run` (and whatever else makes jobs claimable) announces the work with a PostgreSQL
`NOTIFY`; an idle worker waits for it or its poll interval, whichever is first. The polls here
are 30 s: a worker that only polled would not have touched the run within the few seconds the
tests allow. Polling stays the fallback (a lost listening connection costs a poll, not work),
and the server's background thread still stops promptly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app import background
from app.background import BackgroundWorker
from app.billing import make_biller
from app.settings import Settings
from invoices.runs import flows
from invoices.runs.models import BillingJob
from invoices.runs.wakeup import Wakeup, announce
from ledger.base import unit_of_work
from ledger.periods import parse_month
from tests.invoices.billing.helpers import load_dataset, open_database

LONG_POLL = 30.0
PROMPT = 5.0  # well inside LONG_POLL, generous for a loaded machine


@pytest.fixture
def loaded(fresh_database: str) -> Iterator[tuple[str, sessionmaker[Session]]]:
    load_dataset(fresh_database, contracts=4, entries_per_contract=1)
    with open_database(fresh_database) as factory:
        yield fresh_database, factory


def _pending(factory: sessionmaker[Session], run_id: int) -> int:
    with unit_of_work(factory) as session:
        return int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(BillingJob)
                .where(BillingJob.run_id == run_id, BillingJob.status != "done")  # type: ignore[arg-type]
            )
            or 0
        )


def _until_done(factory: sessionmaker[Session], run_id: int, within: float) -> float:
    started = time.monotonic()
    while _pending(factory, run_id):
        assert time.monotonic() - started < within, "the idle worker did not start the run"
        time.sleep(0.05)
    return time.monotonic() - started


class _Spied(Wakeup):
    """A wakeup that tells when the worker went idle (entered its wait)."""

    idle = threading.Event()

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        assert seconds == LONG_POLL
        _Spied.idle.set()
        return super().wait(seconds, stop)


@pytest.mark.postgres_only
def test_an_idle_worker_starts_a_run_as_soon_as_it_is_committed(
    db_kind: str, loaded: tuple[str, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, factory = loaded
    monkeypatch.setattr(flows, "Wakeup", _Spied)
    _Spied.idle.clear()
    stopping = threading.Event()
    biller = make_biller(Settings(database_url=url), factory)
    worker = threading.Thread(
        target=flows.work_any,
        args=(biller,),
        kwargs={"idle_exit": False, "poll_seconds": LONG_POLL, "stop": stopping.is_set},
        daemon=True,
    )
    worker.start()
    assert _Spied.idle.wait(PROMPT), "the worker never went idle"
    time.sleep(0.2)  # well into its wait
    run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
    _until_done(factory, run_id, PROMPT)
    # Stopping: the flag is looked at after a wait; an announcement ends this one at once.
    stopping.set()
    with unit_of_work(factory) as session:
        announce(session)
    worker.join(PROMPT)
    assert not worker.is_alive(), "the worker did not wake up a second time"


@pytest.mark.postgres_only
def test_the_wait_ends_on_a_commit_not_on_a_rollback_and_survives_a_lost_connection(
    db_kind: str, loaded: tuple[str, sessionmaker[Session]]
) -> None:
    _, factory = loaded
    waiting = Wakeup.of(factory)
    try:
        waiting.listen()
        assert waiting.listening
        session = factory()
        announce(session)
        session.rollback()
        session.close()
        started = time.monotonic()
        assert waiting.wait(0.3) is False
        assert time.monotonic() - started >= 0.3
        for _ in range(3):  # sent while the worker was busy: it wakes at once, then is idle
            with unit_of_work(factory) as session:
                announce(session)
        assert waiting.wait(LONG_POLL) is True
        extra = 0
        while waiting.wait(0.2):  # what was still on its way when the first was read
            extra += 1
            assert extra <= 2
        # The listening connection is killed: the wait is a poll again (no error), and the
        # next wait listens anew.
        pid = waiting._conn.info.backend_pid
        with unit_of_work(factory) as session:
            session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        started = time.monotonic()
        assert waiting.wait(0.5) is False
        assert 0.4 <= time.monotonic() - started < PROMPT
        waiting.listen()
        assert waiting.listening
        with unit_of_work(factory) as session:
            announce(session)
        assert waiting.wait(LONG_POLL) is True
    finally:
        waiting.close()


def test_the_servers_thread_starts_a_run_at_once_and_stops_promptly(
    db_kind: str, loaded: tuple[str, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, factory = loaded
    monkeypatch.setattr(background, "IDLE_SECONDS", LONG_POLL)
    drained = threading.Event()
    worker = BackgroundWorker(Settings(database_url=url), factory=lambda: factory)
    original = worker.drain

    def drain() -> int:
        busy = original()
        drained.set()
        return busy

    monkeypatch.setattr(worker, "drain", drain)
    worker.start()
    try:
        assert drained.wait(PROMPT)
        time.sleep(0.2)  # idle, in its wait
        if db_kind == "postgresql":
            run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
            _until_done(factory, run_id, PROMPT)
    finally:
        started = time.monotonic()
        worker.stop(timeout=PROMPT)
    assert worker._thread is not None and not worker._thread.is_alive()
    assert time.monotonic() - started < 2.0


def test_on_sqlite_the_wait_is_a_sleep() -> None:
    waiting = Wakeup(sa.create_engine("sqlite://"))
    waiting.listen()
    assert not waiting.listening
    started = time.monotonic()
    assert waiting.wait(0.2) is False
    assert time.monotonic() - started >= 0.2


def test_the_servers_thread_outlives_a_database_it_cannot_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_database() -> sessionmaker[Session]:
        raise RuntimeError("no database yet")

    monkeypatch.setattr(background, "IDLE_SECONDS", 0.01)
    worker = BackgroundWorker(Settings(), factory=no_database)
    drains = {"n": 0}
    twice = threading.Event()

    def drain() -> int:
        drains["n"] += 1
        if drains["n"] >= 2:
            twice.set()
        return 0

    monkeypatch.setattr(worker, "drain", drain)
    worker.start()
    try:
        assert twice.wait(PROMPT), "the thread ended on the unreachable database"
    finally:
        worker.stop(timeout=PROMPT)
    assert worker._thread is not None and not worker._thread.is_alive()
