"""Working through a run a chunk of contracts at a time.

A worker claims up to `size` pending jobs with `FOR UPDATE SKIP LOCKED` and bills them all in
that same transaction: the claim is the transaction, so a worker that dies (kill -9, a lost
connection) releases its chunk the moment the database drops its session, and nothing of it
was committed. Each contract runs in a savepoint, so one contract's failure is recorded on its
job and the rest of the chunk is issued. The chunk's invoices are numbered by one locked update
of the sequence just before the commit: gapless under any number of workers and kills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.issuing import Draft, IssuerDetails, draft_period, issue_drafts
from invoices.runs.models import BillingJob, BillingRun
from invoices.runs.periods import next_unbilled_period
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.errors import DomainError
from ledger.periods import month_period

DEFAULT_CHUNK = 200


@dataclass(frozen=True)
class ChunkResult:
    run_ids: frozenset[int]
    jobs: int
    invoices: int
    failed: int


def describe(exc: Exception) -> str:
    """A failure as recorded on the run: the domain's words, or the exception's."""
    detail = exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    return detail[:1000]


def _claim(session: Session, *, run_id: int | None, size: int) -> list[tuple[BillingJob, date]]:
    query = (
        select(BillingJob, col(BillingRun.period_start))
        .join(BillingRun, col(BillingRun.id) == col(BillingJob.run_id))
        .where(col(BillingRun.status) == "running", col(BillingJob.status) == "pending")
        .order_by(col(BillingJob.id))
        .limit(size)
        .with_for_update(skip_locked=True, of=BillingJob)  # type: ignore[arg-type]
    )
    if run_id is not None:
        query = query.where(col(BillingJob.run_id) == run_id)
    return [(job, period_start) for job, period_start in session.execute(query).all()]


def _load(
    session: Session, contract_ids: list[int]
) -> tuple[dict[int, Contract], dict[int, Plan], dict[int, Customer]]:
    """The chunk's contracts (locked, in id order so two chunks never deadlock), plans and
    customers, in three queries."""
    contracts = {
        c.id: c
        for c in session.scalars(
            select(Contract)
            .where(col(Contract.id).in_(contract_ids))
            .order_by(col(Contract.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if c.id is not None
    }
    plan_ids = {c.plan_id for c in contracts.values()}
    plans = {
        p.id: p for p in session.scalars(select(Plan).where(col(Plan.id).in_(plan_ids))) if p.id
    }
    customer_ids = {c.customer_id for c in contracts.values()}
    customers = {
        c.id: c
        for c in session.scalars(select(Customer).where(col(Customer.id).in_(customer_ids)))
        if c.id is not None
    }
    return contracts, plans, customers


def work_chunk(
    session: Session,
    *,
    issuer: IssuerDetails,
    now: datetime,
    worker: str,
    run_id: int | None = None,
    size: int = DEFAULT_CHUNK,
) -> ChunkResult | None:
    """Claim and bill one chunk in the caller's transaction; None when nothing is pending."""
    claimed = _claim(session, run_id=run_id, size=size)
    if not claimed:
        return None
    contracts, plans, customers = _load(session, sorted({job.contract_id for job, _ in claimed}))
    drafts: list[Draft] = []
    failed = 0
    for job, period_start in claimed:
        run_period = month_period(period_start)
        savepoint = session.begin_nested()
        try:
            contract = contracts[job.contract_id]
            plan, customer = plans[contract.plan_id], customers[contract.customer_id]
            mine: list[Draft] = []
            while (period := next_unbilled_period(session, contract, plan, run_period)) is not None:
                mine.append(
                    draft_period(
                        session,
                        contract=contract,
                        plan=plan,
                        customer=customer,
                        period=period,
                        now=now,
                        billing_run_id=job.run_id,
                    )
                )
            savepoint.commit()
        except Exception as exc:  # one contract's failure must not sink its chunk
            savepoint.rollback()
            job.status, job.error = "failed", describe(exc)
            failed += 1
        else:
            drafts.extend(mine)
            job.status, job.error = "done", None
            job.invoices_issued += len(mine)
        job.attempts += 1
        job.worker = worker
        job.updated_at = now
    issue_drafts(session, drafts, issuer=issuer, now=now)
    session.flush()
    return ChunkResult(
        run_ids=frozenset(job.run_id for job, _ in claimed),
        jobs=len(claimed),
        invoices=len(drafts),
        failed=failed,
    )


def waiting_jobs(session: Session) -> int:
    return int(
        session.scalar(
            select(sa.func.count())
            .select_from(BillingJob)
            .join(BillingRun, col(BillingRun.id) == col(BillingJob.run_id))
            .where(col(BillingRun.status) == "running", col(BillingJob.status) == "pending")
        )
        or 0
    )
