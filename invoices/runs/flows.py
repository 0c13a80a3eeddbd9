"""Starting, working through and finishing a billing run.

A run is a job per contract; workers bill them a chunk at a time (`invoices.runs.chunks`), so
a run killed at any point leaves whole chunks or none and no gap in numbering; starting the run
again resumes it, and a period already invoiced is skipped. One contract's failure is recorded
on its job and the run goes on.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.issuing import IssuerDetails, Preview
from invoices.runs.chunks import DEFAULT_CHUNK, describe
from invoices.runs.completion import finalize_if_done, run_summary
from invoices.runs.dry_run import preview_chunk
from invoices.runs.models import BillingJob, BillingRun
from invoices.runs.periods import check_period_billable, eligible_contracts
from invoices.runs.wakeup import Wakeup, announce
from invoices.runs.worker import tick as work_step
from ledger.base import UTCDateTime, unit_of_work, utcnow
from ledger.errors import NotFound
from ledger.periods import month_period

__all__ = [
    "Biller",
    "check_period_billable",
    "describe",
    "finalize_if_done",
    "run_summary",
    "start_run",
    "work_run",
]


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Biller:
    """What every worker of a run needs: the database, the issuer, a clock."""

    factory: sessionmaker[Session]
    issuer: IssuerDetails
    clock: Callable[[], datetime] = utcnow
    worker: str = field(default_factory=default_worker_name)
    chunk_size: int = DEFAULT_CHUNK
    document_processes: int = 1  # rendering processes; 1 renders in this process


def start_run(factory: sessionmaker[Session], month: date, *, now: datetime) -> int:
    """Create the run and its jobs, or resume the unfinished run of the same period."""
    period = month_period(month)
    check_period_billable(period, now)
    with unit_of_work(factory) as session:
        announce(session)  # standing workers start on it at the commit, not at their next poll
        running = session.scalar(
            select(BillingRun)
            .where(
                col(BillingRun.period_start) == period.start, col(BillingRun.status) == "running"
            )
            .order_by(col(BillingRun.id))
            .limit(1)
        )
        if running is not None:
            assert running.id is not None
            return running.id
        run = BillingRun(period_start=period.start, period_label=period.label, created_at=now)
        session.add(run)
        session.flush()
        assert run.id is not None
        # One INSERT … SELECT: the jobs never pass through Python, whatever the run's size.
        eligible = eligible_contracts(period).subquery()
        session.execute(
            sa.insert(BillingJob).from_select(
                ["run_id", "contract_id", "status", "attempts", "invoices_issued", "updated_at"],
                sa.select(
                    sa.literal(run.id, sa.Integer),
                    eligible.c.id,
                    sa.literal("pending", sa.String),
                    sa.literal(0, sa.Integer),
                    sa.literal(0, sa.Integer),
                    sa.literal(now, UTCDateTime()),
                ).order_by(eligible.c.id),
            )
        )
        run_id = run.id
        finalize_if_done(session, run_id, now=now)
    return run_id


PROGRESS_EVERY = 0.5  # seconds between progress reports


def work_run(
    biller: Biller,
    run_id: int,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    wait_for_others: bool = True,
    poll_seconds: float = 0.2,
) -> dict[str, Any]:
    """Work on a run until it is finished (other workers may be sharing it)."""
    reported = 0.0
    while True:
        worked = work_step(biller, run_id=run_id)
        with unit_of_work(biller.factory) as session:
            status = session.scalar(
                select(col(BillingRun.status)).where(col(BillingRun.id) == run_id)
            )
            if status is None:
                raise NotFound(f"no billing run {run_id}")
            finished = status != "running" or (not worked and not wait_for_others)
            due = on_progress is not None and time.monotonic() - reported >= PROGRESS_EVERY
            summary = run_summary(session, run_id) if finished or due else None
        if on_progress is not None and summary is not None:
            on_progress(summary)
            reported = time.monotonic()
        if finished:
            assert summary is not None
            return {"id": run_id, "status": status, **summary}
        if not worked:
            time.sleep(poll_seconds)


def work_any(
    biller: Biller,
    *,
    idle_exit: bool,
    poll_seconds: float = 1.0,
    tick: Callable[[Biller], object] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """The `hourglass billing worker` loop: work of any running run. Returns the ticks that
    found work.

    `tick` (auto billing: `app.auto_billing.make_tick`) is called before each step; `stop` ends
    the loop between steps (the server's background thread at shutdown). Idle, it waits
    `poll_seconds` or until work is announced (`invoices.runs.wakeup`), whichever is first."""
    worked = 0
    wakeup = Wakeup.of(None if idle_exit else biller.factory)
    wakeup.listen()  # before the first look: what is committed after it wakes the wait
    try:
        while stop is None or not stop():
            if tick is not None:
                tick(biller)
            if work_step(biller):
                worked += 1
                continue
            if idle_exit:
                return worked
            wakeup.wait(poll_seconds)
    finally:
        wakeup.close()
    return worked


@dataclass
class PreviewResult:
    previews: list[Preview]
    failures: list[dict[str, Any]]


def preview_run(biller: Biller, month: date, *, now: datetime) -> PreviewResult:
    """A dry run: every invoice the run would issue now, in a transaction that is rolled back.

    A chunk of contracts at a time on a run's path (`invoices.runs.dry_run`); a chunk with a
    failing contract is previewed again a contract per savepoint, so one contract's failure is
    reported and the others are still shown, exactly as a real run records it and goes on."""
    period = month_period(month)
    result = PreviewResult(previews=[], failures=[])
    session = biller.factory()
    try:
        contract_ids = list(session.scalars(eligible_contracts(period)).all())
        size = max(1, biller.chunk_size)
        for at in range(0, len(contract_ids), size):
            chunk = preview_chunk(
                session, contract_ids[at : at + size], period, issuer=biller.issuer, now=now
            )
            result.previews.extend(chunk.previews)
            result.failures.extend(chunk.failures)
    finally:
        session.rollback()
        session.close()
    return result
