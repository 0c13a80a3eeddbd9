"""Starting, working through and finishing a billing run.

Each contract period is billed in its own transaction under the contract's lock, so a run
killed at any point leaves whole invoices or none and no gap in numbering; starting the run
again resumes it, and a period already invoiced is skipped. One contract's failure is recorded
on its job and the run goes on.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.issuing import IssuerDetails, Preview, bill_period, preview_period
from invoices.models import Adjustment, Invoice
from invoices.notifications import events as notify
from invoices.runs.models import BillingJob, BillingRun
from ledger import money
from ledger.base import unit_of_work, utcnow
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import lock_contract, plan_of
from ledger.customers.models import Customer
from ledger.errors import Conflict, DomainError, NotFound
from ledger.hours.allotments import contract_periods
from ledger.hours.models import WorkEntry
from ledger.periods import Period, local_midnight, month_period

LEASE = timedelta(minutes=2)  # a job running longer than this belongs to a dead worker
EARLIEST_ZONE = "Etc/GMT-14"  # the first place on earth where a month ends


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Biller:
    """What every worker of a run needs: the database, the issuer, a clock."""

    factory: sessionmaker[Session]
    issuer: IssuerDetails
    clock: Callable[[], datetime] = utcnow
    worker: str = field(default_factory=default_worker_name)


@dataclass(frozen=True)
class ClaimedJob:
    job_id: int
    run_id: int
    contract_id: int
    period: Period


def _eligible_contracts(period: Period) -> sa.Select[Any]:
    """Contracts that had started by the end of the period and still have something to bill:
    still running in it, or ended earlier without an invoice for their last period."""
    last_invoiced = (
        select(sa.func.max(Invoice.period_end))
        .where(col(Invoice.contract_id) == col(Contract.id))
        .scalar_subquery()
    )
    return select(col(Contract.id)).where(
        col(Contract.start_date) < period.end,
        sa.or_(
            col(Contract.end_date).is_(None),
            col(Contract.end_date) >= period.start,
            last_invoiced.is_(None),
            last_invoiced <= col(Contract.end_date),
            _has_pending_charges(col(Contract.id)),
        ),
    )


def check_period_billable(period: Period, now: datetime) -> None:
    if now < local_midnight(period.end, EARLIEST_ZONE):
        raise Conflict(
            f"period {period.label} has not ended yet: it can only be previewed (dry run)",
            field="period",
        )


def start_run(factory: sessionmaker[Session], month: date, *, now: datetime) -> int:
    """Create the run and its jobs, or resume the unfinished run of the same period."""
    period = month_period(month)
    check_period_billable(period, now)
    with unit_of_work(factory) as session:
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
        contract_ids = session.scalars(_eligible_contracts(period)).all()
        if contract_ids:
            session.execute(
                sa.insert(BillingJob),
                [
                    {
                        "run_id": run.id,
                        "contract_id": cid,
                        "status": "pending",
                        "attempts": 0,
                        "invoices_issued": 0,
                        "updated_at": now,
                    }
                    for cid in contract_ids
                ],
            )
        run_id = run.id
    finalize_if_done(factory, run_id, now=now)
    return run_id


def claim_job(biller: Biller, *, run_id: int | None = None) -> ClaimedJob | None:
    """Take the next free job: `FOR UPDATE SKIP LOCKED` lets many workers claim at once."""
    now = biller.clock()
    with unit_of_work(biller.factory) as session:
        query = (
            select(BillingJob, col(BillingRun.period_start))
            .join(BillingRun, col(BillingRun.id) == col(BillingJob.run_id))
            .where(
                col(BillingRun.status) == "running",
                sa.or_(
                    col(BillingJob.status) == "pending",
                    sa.and_(
                        col(BillingJob.status) == "running",
                        col(BillingJob.locked_at) < now - LEASE,
                    ),
                ),
            )
            .order_by(col(BillingJob.id))
            .limit(1)
            .with_for_update(skip_locked=True, of=BillingJob)  # type: ignore[arg-type]
        )
        if run_id is not None:
            query = query.where(col(BillingJob.run_id) == run_id)
        row = session.execute(query).first()
        if row is None:
            return None
        job, period_start = row
        job.status = "running"
        job.worker = biller.worker
        job.locked_at = now
        job.updated_at = now
        job.attempts += 1
        assert job.id is not None
        return ClaimedJob(job.id, job.run_id, job.contract_id, month_period(period_start))


def _has_pending_charges(contract_id: Any) -> sa.ColumnElement[bool]:
    """Late work or a manual adjustment still waiting for an invoice."""
    return sa.or_(
        sa.exists().where(
            col(WorkEntry.contract_id) == contract_id,
            col(WorkEntry.late).is_(True),
            col(WorkEntry.invoice_id).is_(None),
        ),
        sa.exists().where(
            col(Adjustment.contract_id) == contract_id, col(Adjustment.invoice_id).is_(None)
        ),
    )


def next_unbilled_period(
    session: Session, contract: Contract, plan: Plan, run_period: Period
) -> Period | None:
    """The earliest period of the contract that has ended by the run's period and has no
    invoice: catch-up of never-billed periods comes first, in order. A contract that ended
    before the run's period but still has late work or adjustments waiting gets one more
    invoice, for the run's period, carrying just those."""
    invoiced = set(
        session.scalars(
            select(col(Invoice.period_start)).where(col(Invoice.contract_id) == contract.id)
        )
    )
    for period in contract_periods(contract, plan, through=run_period.end - timedelta(days=1)):
        if period.end > run_period.end:
            return None
        if period.start not in invoiced:
            return period
    if (
        contract.end_date is not None
        and contract.end_date < run_period.start
        and run_period.start not in invoiced
        and session.scalar(sa.select(_has_pending_charges(contract.id)))
    ):
        return run_period
    return None


def describe(exc: Exception) -> str:
    """A failure as recorded on the run: the domain's words, or the exception's."""
    detail = exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    return detail[:1000]


def process_job(biller: Biller, job: ClaimedJob) -> int:
    """Bill every due period of one contract, each in its own transaction. Returns invoices."""
    issued = 0
    try:
        while True:
            with unit_of_work(biller.factory) as session:
                contract = lock_contract(session, job.contract_id)
                plan = plan_of(session, contract)
                period = next_unbilled_period(session, contract, plan, job.period)
                if period is None:
                    break
                customer = session.get(Customer, contract.customer_id)
                assert customer is not None
                bill_period(
                    session,
                    contract=contract,
                    plan=plan,
                    customer=customer,
                    period=period,
                    issuer=biller.issuer,
                    now=biller.clock(),
                    billing_run_id=job.run_id,
                )
            issued += 1
        _finish_job(biller, job, status="done", issued=issued, error=None)
    except Exception as exc:  # one contract's failure must not stop the run
        _finish_job(biller, job, status="failed", issued=issued, error=describe(exc))
    finalize_if_done(biller.factory, job.run_id, now=biller.clock())
    return issued


def _finish_job(
    biller: Biller, job: ClaimedJob, *, status: str, issued: int, error: str | None
) -> None:
    with unit_of_work(biller.factory) as session:
        row = session.get(BillingJob, job.job_id)
        assert row is not None
        row.status = status
        row.invoices_issued += issued
        row.error = error
        row.updated_at = biller.clock()


def finalize_if_done(factory: sessionmaker[Session], run_id: int, *, now: datetime) -> None:
    with unit_of_work(factory) as session:
        run = session.scalar(
            select(BillingRun).where(col(BillingRun.id) == run_id).with_for_update()
        )
        assert run is not None
        if run.status != "running":
            return
        open_jobs = session.scalar(
            select(sa.func.count())
            .select_from(BillingJob)
            .where(
                col(BillingJob.run_id) == run_id,
                col(BillingJob.status).in_(["pending", "running"]),
            )
        )
        if open_jobs:
            return
        run.summary = run_summary(session, run_id)
        run.status = "completed_with_failures" if run.summary["failures"] else "completed"
        run.finished_at = now
        notify.billing_run_completed(session, run, now=now)


def run_summary(session: Session, run_id: int) -> dict[str, Any]:
    """Contracts, invoices, totals per currency and failures of a run, in three aggregate
    queries (the progress bar asks for it while the run goes on)."""
    by_status = dict(
        session.execute(
            select(col(BillingJob.status), sa.func.count())
            .where(col(BillingJob.run_id) == run_id)
            .group_by(col(BillingJob.status))
        ).all()
    )
    totals = session.execute(
        select(col(Invoice.currency), sa.func.count(), sa.func.sum(Invoice.total_minor))
        .where(col(Invoice.billing_run_id) == run_id)
        .group_by(col(Invoice.currency))
        .order_by(col(Invoice.currency))
    ).all()
    failures = session.execute(
        select(col(BillingJob.contract_id), col(BillingJob.error))
        .where(col(BillingJob.run_id) == run_id, col(BillingJob.status) == "failed")
        .order_by(col(BillingJob.contract_id))
    ).all()
    return {
        "contracts": sum(by_status.values()),
        "done": by_status.get("done", 0),
        "pending": by_status.get("pending", 0) + by_status.get("running", 0),
        "invoices": sum(count for _, count, _ in totals),
        "totals": {c: money.format_amount(int(v or 0), c) for c, _, v in totals},
        "failures": [{"contract_id": cid, "error": error} for cid, error in failures],
    }


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
        job = claim_job(biller, run_id=run_id)
        if job is not None:
            process_job(biller, job)
        with unit_of_work(biller.factory) as session:
            status = session.scalar(
                select(col(BillingRun.status)).where(col(BillingRun.id) == run_id)
            )
            if status is None:
                raise NotFound(f"no billing run {run_id}")
            finished = status != "running" or (job is None and not wait_for_others)
            due = on_progress is not None and time.monotonic() - reported >= PROGRESS_EVERY
            summary = run_summary(session, run_id) if finished or due else None
        if on_progress is not None and summary is not None:
            on_progress(summary)
            reported = time.monotonic()
        if finished:
            assert summary is not None
            return {"id": run_id, "status": status, **summary}
        if job is None:
            time.sleep(poll_seconds)


def work_any(
    biller: Biller,
    *,
    idle_exit: bool,
    poll_seconds: float = 1.0,
    tick: Callable[[Biller], object] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """The `hourglass billing worker` loop: jobs of any running run. Returns jobs processed.

    `tick` (auto billing: `invoices.runs.auto.tick`) is called before each claim; `stop` ends
    the loop between jobs (the server's background thread at shutdown)."""
    processed = 0
    while stop is None or not stop():
        if tick is not None:
            tick(biller)
        job = claim_job(biller)
        if job is None:
            if idle_exit:
                return processed
            time.sleep(poll_seconds)
            continue
        process_job(biller, job)
        processed += 1
    return processed


@dataclass
class PreviewResult:
    previews: list[Preview]
    failures: list[dict[str, Any]]


def preview_run(biller: Biller, month: date, *, now: datetime) -> PreviewResult:
    """A dry run: every invoice the run would issue now, in a transaction that is rolled back.

    Each contract is previewed in a savepoint, so one contract's failure is reported and the
    others are still shown, exactly as a real run records it and goes on."""
    period = month_period(month)
    result = PreviewResult(previews=[], failures=[])
    session = biller.factory()
    try:
        for contract_id in session.scalars(_eligible_contracts(period)).all():
            savepoint = session.begin_nested()
            try:
                contract = lock_contract(session, contract_id)
                plan = plan_of(session, contract)
                customer = session.get(Customer, contract.customer_id)
                assert customer is not None
                shown = []
                while (due := next_unbilled_period(session, contract, plan, period)) is not None:
                    shown.append(
                        preview_period(
                            session,
                            contract=contract,
                            plan=plan,
                            customer=customer,
                            period=due,
                            issuer=biller.issuer,
                            now=now,
                        )
                    )
                savepoint.commit()
                result.previews.extend(shown)
            except Exception as exc:  # one contract's failure must not hide the others
                savepoint.rollback()
                detail = (
                    exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
                )
                result.failures.append({"contract_id": contract_id, "error": detail[:1000]})
    finally:
        session.rollback()
        session.close()
    return result
