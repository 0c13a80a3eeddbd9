"""Working through a run a chunk of contracts at a time.

A worker claims up to `size` pending jobs with `FOR UPDATE SKIP LOCKED` and bills them all in
that same transaction: the claim is the transaction, so a worker that dies (kill -9, a lost
connection) releases its chunk the moment the database drops its session, and nothing of it
was committed. The chunk is billed in one savepoint, the first due period of all its contracts
closed together (`ledger.hours.bulk_closing`), their inputs read together
(`invoices.period_inputs`), then each contract drafted on the one billing path
(`issuing.draft_period`) and the drafts written together (`writing.write_drafts`: a few
statements for the chunk); a catch-up contract's later periods follow one by one, each after its
predecessor is settled. If any contract fails, that savepoint is rolled back and the chunk is
billed again a contract per savepoint, so one contract's failure is recorded on its job and the
rest of the chunk is issued. The chunk's invoices are numbered by one locked update of the
sequence just before the commit (`writing.issue_drafts`), in job order and each contract's
periods in order: gapless under any number of workers and kills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from invoices.issuing import Draft, IssuerDetails, draft_period, issue_drafts, write_drafts
from invoices.period_inputs import ToCompute, key_of, load_inputs
from invoices.runs.models import BillingJob, BillingRun
from invoices.runs.periods import next_unbilled_period, next_unbilled_periods
from ledger.bulk import one_of, update_by_id
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.errors import DomainError
from ledger.hours.bulk_closing import ToClose, close_periods
from ledger.periods import Period, month_period

# Contracts per chunk transaction (`HOURGLASS_BILLING_CHUNK_SIZE`). 500 against 200: a fifth
# less time issuing 10k contracts on one PostgreSQL worker (fewer statements per contract), a
# chunk still well under a second, a worker's RSS barely changed (bench/README.md, issue5).
DEFAULT_CHUNK = 500


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
            .where(one_of(session, col(Contract.id), contract_ids))
            .order_by(col(Contract.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if c.id is not None
    }
    plan_ids = {c.plan_id for c in contracts.values()}
    plans = {
        p.id: p
        for p in session.scalars(select(Plan).where(one_of(session, col(Plan.id), plan_ids)))
        if p.id
    }
    customer_ids = {c.customer_id for c in contracts.values()}
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(one_of(session, col(Customer.id), customer_ids))
        )
        if c.id is not None
    }
    return contracts, plans, customers


Billed = dict[int | None, "list[Draft] | Exception"]


def _draft_contract(
    session: Session,
    job: BillingJob,
    contract: Contract,
    plan: Plan,
    customer: Customer,
    period: Period | None,
    run_period: Period,
    *,
    now: datetime,
) -> list[Draft]:
    """Every due period of one contract, drafted in order (`period` is its first)."""
    mine: list[Draft] = []
    while period is not None:
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
        period = next_unbilled_period(session, contract, plan, run_period)
    return mine


def _bill_at_once(
    session: Session,
    claimed: list[tuple[BillingJob, date]],
    contracts: dict[int, Contract],
    plans: dict[int, Plan],
    customers: dict[int, Customer],
    *,
    now: datetime,
) -> Billed | None:
    """The whole chunk in one savepoint, its first periods closed together
    (`bulk_closing.close_periods`), then drafted contract by contract on the one billing path.
    None (and nothing written) when any contract fails: the chunk is then billed one by one,
    as it is when it holds a contract twice (jobs of two runs), whose periods depend on each
    other."""
    if len({job.contract_id for job, _ in claimed}) != len(claimed):
        return None
    savepoint = session.begin_nested()
    try:
        firsts = []
        wanted = []
        for job, period_start in claimed:
            contract = contracts[job.contract_id]
            wanted.append((contract, plans[contract.plan_id], month_period(period_start)))
        due = next_unbilled_periods(session, wanted)
        for (job, _), (contract, plan, run_period) in zip(claimed, wanted, strict=True):
            assert contract.id is not None
            firsts.append((job, contract, plan, run_period, due[contract.id]))
        closed = close_periods(
            session,
            [ToClose(c, p, first) for _, c, p, _, first in firsts if first is not None],
            now=now,
        )
        inputs = load_inputs(
            session, [ToCompute(c, p, first) for _, c, p, _, first in firsts if first is not None]
        )
        # The first due period of every contract drafted, then written together (invoices,
        # lines, settling: a few statements for the chunk); a catch-up contract's later
        # periods need their predecessor settled, so they follow one by one (rare).
        drafts: dict[int | None, list[Draft]] = {}
        drafted = []
        for job, contract, plan, run_period, first in firsts:
            mine = drafts[job.id] = []
            if first is not None:
                mine.append(
                    draft_period(
                        session,
                        contract=contract,
                        plan=plan,
                        customer=customers[contract.customer_id],
                        period=first,
                        now=now,
                        billing_run_id=job.run_id,
                        inputs=inputs[key_of(contract, first)],
                        deferred=True,
                        closed=contract.id in closed,
                    )
                )
                drafted.append((job, contract, plan, run_period))
        write_drafts(session, [d for mine in drafts.values() for d in mine])
        further = next_unbilled_periods(session, [(c, p, r) for _, c, p, r in drafted])
        for job, contract, plan, run_period in drafted:
            assert contract.id is not None
            if (period := further[contract.id]) is not None:
                drafts[job.id].extend(
                    _draft_contract(
                        session,
                        job,
                        contract,
                        plan,
                        customers[contract.customer_id],
                        period,
                        run_period,
                        now=now,
                    )
                )
        savepoint.commit()
    except Exception:
        savepoint.rollback()
        return None
    return dict(drafts)


def _bill_one_by_one(
    session: Session,
    claimed: list[tuple[BillingJob, date]],
    contracts: dict[int, Contract],
    plans: dict[int, Plan],
    customers: dict[int, Customer],
    *,
    now: datetime,
) -> Billed:
    """Each contract in its own savepoint, so one contract's failure is recorded on its job
    and the rest of the chunk is issued."""
    billed: Billed = {}
    for job, period_start in claimed:
        run_period = month_period(period_start)
        savepoint = session.begin_nested()
        try:
            contract = contracts[job.contract_id]
            plan, customer = plans[contract.plan_id], customers[contract.customer_id]
            first = next_unbilled_period(session, contract, plan, run_period)
            mine = _draft_contract(
                session, job, contract, plan, customer, first, run_period, now=now
            )
            savepoint.commit()
        except Exception as exc:  # one contract's failure must not sink its chunk
            savepoint.rollback()
            billed[job.id] = exc
        else:
            billed[job.id] = mine
    return billed


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
    billed = _bill_at_once(session, claimed, contracts, plans, customers, now=now)
    if billed is None:
        billed = _bill_one_by_one(session, claimed, contracts, plans, customers, now=now)
    drafts: list[Draft] = []
    failed = 0
    finished: dict[str, dict[int, Any]] = {
        "status": {},
        "error": {},
        "attempts": {},
        "invoices_issued": {},
    }
    for job, _ in claimed:
        assert job.id is not None
        outcome = billed[job.id]
        if isinstance(outcome, Exception):
            status, error, issued = "failed", describe(outcome), job.invoices_issued
            failed += 1
        else:
            drafts.extend(outcome)
            status, error, issued = "done", None, job.invoices_issued + len(outcome)
        for name, value in (
            ("status", status),
            ("error", error),
            ("attempts", job.attempts + 1),
            ("invoices_issued", issued),
        ):
            finished[name][job.id] = value
    # Every job of the chunk finished in one UPDATE; the loaded jobs told what it wrote.
    update_by_id(
        session,
        BillingJob.__table__,  # type: ignore[attr-defined]
        finished,
        same={"worker": worker, "updated_at": now},
    )
    for job, _ in claimed:
        assert job.id is not None
        for name, by_job in finished.items():
            set_committed_value(job, name, by_job[job.id])
        set_committed_value(job, "worker", worker)
        set_committed_value(job, "updated_at", now)
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
