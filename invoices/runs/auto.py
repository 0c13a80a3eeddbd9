"""Unattended month-end (`HOURGLASS_AUTO_BILLING=true`): start each month's run once, retry it.

When: a month is due once it has ended everywhere on earth, that is at midnight at its end in
the latest time zone, UTC−12 (`Etc/GMT+12`): 12:00 UTC on the first day of the next month.
Whatever a contract's time zone, its period has ended by then (runs themselves only refuse a
period that has not ended in the *earliest* zone, UTC+14, so a person may start one sooner).

Exactly once: `auto_billing_runs` has one row per month, keyed by the month. Every process that
ticks tries to insert it; the primary key lets exactly one succeed, on any number of machines,
and only that process starts (or adopts) the run. Its claim is a short lease: if it dies before
recording the run's id, another process takes the claim over after `CLAIM_LEASE`, and the
run it finds running for that month is resumed, not duplicated. A month that already has a run
(someone typed `hourglass billing run`) adopts the latest one instead of starting another.

Retries: when the month's run ends `completed_with_failures`, its failed jobs are put back to
`pending` and the run back to `running` after a back-off (`RETRY_BACKOFF`, counted from the
run's last finish), at most `len(RETRY_BACKOFF)` times; a compare-and-set on `retries` makes
each retry happen once however many processes tick. After the last one the failures wait for
a person (the `hourglass_billing_jobs_failed` gauge stays up).

A month missed entirely (auto billing enabled late, or every process down for a month) needs
no run of its own: a run catches up every earlier unbilled period of each contract.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import Field, SQLModel, col, select

from invoices.runs import flows
from invoices.runs.models import BillingJob, BillingRun
from invoices.runs.wakeup import announce
from ledger.base import unit_of_work, utc_column
from ledger.periods import add_months

LATEST_ZONE = "Etc/GMT+12"  # UTC−12: the last place on earth where a month ends
CLAIM_LEASE = timedelta(minutes=2)
RETRY_BACKOFF = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)


class AutoBillingRun(SQLModel, table=True):
    """One row per month auto billing has taken care of: the claim, the run, its retries."""

    __tablename__ = "auto_billing_runs"

    period_start: date = Field(primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="billing_runs.id")
    claimed_by: str = Field(max_length=100)
    claimed_at: datetime = Field(sa_column=utc_column())
    retries: int = 0
    last_retry_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


def due_month(now: datetime) -> date:
    """The latest month that has ended everywhere at `now` (its first day)."""
    local = now.astimezone(ZoneInfo(LATEST_ZONE)).date()
    return add_months(local.replace(day=1), -1)


def _claim(factory: sessionmaker[Session], month: date, *, now: datetime, worker: str) -> bool:
    """Insert the month's row, or take over a stale claim that never recorded its run."""
    try:
        with unit_of_work(factory) as session:
            row = session.get(AutoBillingRun, month)
            if row is None:
                session.add(AutoBillingRun(period_start=month, claimed_by=worker, claimed_at=now))
                session.flush()
                return True
            if row.run_id is not None or row.claimed_at > now - CLAIM_LEASE:
                return False
            taken = session.execute(
                sa.update(AutoBillingRun)
                .where(
                    col(AutoBillingRun.period_start) == month,
                    col(AutoBillingRun.run_id).is_(None),
                    col(AutoBillingRun.claimed_at) == row.claimed_at,
                )
                .values(claimed_by=worker, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]
    except IntegrityError:  # another process inserted the month first
        return False


def _existing_run(factory: sessionmaker[Session], month: date) -> int | None:
    with unit_of_work(factory) as session:
        return session.scalar(
            select(col(BillingRun.id))
            .where(col(BillingRun.period_start) == month)
            .order_by(col(BillingRun.id).desc())
            .limit(1)
        )


def start_due_runs(factory: sessionmaker[Session], now: datetime, *, worker: str) -> list[int]:
    """Start the run of the month that is due at `now`, if no process has yet. Returns the ids
    of the runs this call started or adopted (empty when another process did it)."""
    month = due_month(now)
    if not _claim(factory, month, now=now, worker=worker):
        return []
    run_id = _existing_run(factory, month) or flows.start_run(factory, month, now=now)
    with unit_of_work(factory) as session:
        session.execute(
            sa.update(AutoBillingRun)
            .where(col(AutoBillingRun.period_start) == month)
            .values(run_id=run_id)
            .execution_options(synchronize_session=False)
        )
    return [run_id]


def is_settled(factory: sessionmaker[Session], month: date) -> bool:
    """Whether the month's run has been started (by any process): nothing left to claim."""
    with unit_of_work(factory) as session:
        row = session.get(AutoBillingRun, month)
        return row is not None and row.run_id is not None


def retry_failed(factory: sessionmaker[Session], now: datetime) -> list[int]:
    """Put the failed contracts of auto-billed runs back to work once their back-off has
    passed. Returns the ids of the runs reopened by this call."""
    with unit_of_work(factory) as session:
        candidates = session.execute(
            sa.select(
                col(AutoBillingRun.period_start),
                col(AutoBillingRun.retries),
                col(BillingRun.finished_at),
            )
            .join(BillingRun, col(BillingRun.id) == col(AutoBillingRun.run_id))
            .where(
                col(BillingRun.status) == "completed_with_failures",
                col(AutoBillingRun.retries) < len(RETRY_BACKOFF),
            )
        ).all()
    reopened = []
    for month, retries, finished_at in candidates:
        if finished_at is None or now < finished_at + RETRY_BACKOFF[retries]:
            continue
        run_id = _reopen(factory, month, retries=retries, now=now)
        if run_id is not None:
            reopened.append(run_id)
    return reopened


def _reopen(
    factory: sessionmaker[Session], month: date, *, retries: int, now: datetime
) -> int | None:
    with unit_of_work(factory) as session:
        won = session.execute(
            sa.update(AutoBillingRun)
            .where(
                col(AutoBillingRun.period_start) == month,
                col(AutoBillingRun.retries) == retries,
            )
            .values(retries=retries + 1, last_retry_at=now)
            .execution_options(synchronize_session=False)
        )
        if not won.rowcount:  # type: ignore[attr-defined]
            return None  # another process retried it
        run_id = session.scalar(
            select(col(AutoBillingRun.run_id)).where(col(AutoBillingRun.period_start) == month)
        )
        assert run_id is not None
        session.execute(
            sa.update(BillingJob)
            .where(col(BillingJob.run_id) == run_id, col(BillingJob.status) == "failed")
            .values(status="pending", error=None, locked_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            sa.update(BillingRun)
            .where(
                col(BillingRun.id) == run_id, col(BillingRun.status) == "completed_with_failures"
            )
            .values(status="running", finished_at=None)
            .execution_options(synchronize_session=False)
        )
        announce(session)
        return run_id


def tick(factory: sessionmaker[Session], now: datetime, *, worker: str) -> list[int]:
    """One look at the calendar, from any worker loop: start what is due, retry what failed.
    Returns the runs it started or reopened."""
    return start_due_runs(factory, now, worker=worker) + retry_failed(factory, now)
