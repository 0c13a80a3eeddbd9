"""Two-month pooling (SPEC "Hours" rule 3) and its undo.

Joining or splitting months changes which allotments work may draw on, so both re-consume the
work already posted in the two months: the month's consumption is given back and applied again
in date order, as if the pool had always (or never) existed. All in appended rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import lock_contract, plan_of
from ledger.errors import NotFound
from ledger.hours import alerts, book
from ledger.hours.allotments import check_grantable, ensure_allotments
from ledger.hours.consumption import consume
from ledger.hours.errors import PoolingRefused
from ledger.hours.models import Allotment, LedgerEntry, Pool, WorkEntry
from ledger.hours.schemas import PoolRead
from ledger.hours.work import is_closed
from ledger.periods import add_months, local_midnight, month_label, month_period, overlap_days

REASON = "repool"


def active_pool(session: Session, contract_id: int, first_month: date) -> Pool | None:
    return session.scalar(
        select(Pool).where(
            col(Pool.contract_id) == contract_id,
            col(Pool.first_month) == first_month,
            col(Pool.undone_at).is_(None),
        )
    )


def create_pool(session: Session, contract_id: int, first_month: date) -> Pool:
    contract = lock_contract(session, contract_id)
    plan = plan_of(session, contract)
    assert contract.id is not None
    second_month = add_months(first_month, 1)
    label = f"{month_label(first_month)}/{month_label(second_month)}"
    if not plan.pooling_allowed or plan.period != "month":
        raise PoolingRefused(f"plan {plan.code!r} does not allow pooling months")
    check_grantable(contract, plan, second_month, now=utcnow(), field="first_month")
    for month in (first_month, second_month):
        if overlap_days(month_period(month), contract.start_date, contract.end_date) == 0:
            raise PoolingRefused(
                f"{month_label(month)} is outside contract {contract.id}: cannot pool {label}"
            )
    if is_closed(session, contract.id, first_month):
        raise PoolingRefused(
            f"{month_label(first_month)} is already closed by a billing run: cannot pool {label}"
        )
    for neighbour in (add_months(first_month, -1), first_month, second_month):
        if active_pool(session, contract.id, neighbour) is not None:
            raise PoolingRefused(
                f"a month of {label} already belongs to the pool starting {month_label(neighbour)}"
            )
    ensure_allotments(session, contract, plan, through=second_month)
    pool = Pool(contract_id=contract.id, first_month=first_month)
    session.add(pool)
    expires_at = local_midnight(add_months(first_month, 2), contract.timezone)
    for allotment in _allotments(session, contract.id, first_month):
        allotment.valid_from = first_month
        allotment.valid_until = add_months(first_month, 2)
        allotment.expires_at = expires_at
        allotment.pool_first_month = first_month
    session.flush()
    _reconsume(session, contract, plan, first_month)
    return pool


def undo_pool(session: Session, contract_id: int, first_month: date) -> Pool:
    contract = lock_contract(session, contract_id)
    plan = plan_of(session, contract)
    assert contract.id is not None
    pool = active_pool(session, contract.id, first_month)
    if pool is None:
        raise NotFound(f"contract {contract.id} has no pool starting {month_label(first_month)}")
    if is_closed(session, contract.id, first_month):
        raise PoolingRefused(
            f"{month_label(first_month)} is already closed by a billing run: the pool stays"
        )
    pool.undone_at = utcnow()
    for allotment in _allotments(session, contract.id, first_month):
        allotment.valid_from = allotment.period_start
        allotment.valid_until = allotment.period_end
        allotment.expires_at = local_midnight(allotment.period_end, contract.timezone)
        allotment.pool_first_month = None
    session.flush()
    _reconsume(session, contract, plan, first_month)
    return pool


def _allotments(session: Session, contract_id: int, first_month: date) -> list[Allotment]:
    return list(
        session.scalars(
            select(Allotment).where(
                col(Allotment.contract_id) == contract_id,
                col(Allotment.period_start) >= first_month,
                col(Allotment.period_start) < add_months(first_month, 2),
            )
        )
    )


def _reconsume(session: Session, contract: Contract, plan: Plan, first_month: date) -> None:
    """Give back every entry's consumption in the two months, then consume again in date order.

    The give-back rows carry the entry they undo, so each entry's coverage stays exactly what
    paid for it (SPEC rule 9), and late work, which consumes nothing, is left alone."""
    assert contract.id is not None
    end = add_months(first_month, 2)
    nets = session.execute(
        sa.select(
            col(LedgerEntry.work_entry_id),
            col(LedgerEntry.kind),
            col(LedgerEntry.allotment_id),
            col(LedgerEntry.period_start),
            col(LedgerEntry.rate),
            func.sum(LedgerEntry.minutes),
        )
        .join(WorkEntry, col(WorkEntry.id) == col(LedgerEntry.work_entry_id))
        .where(
            col(LedgerEntry.contract_id) == contract.id,
            col(WorkEntry.worked_on) >= first_month,
            col(WorkEntry.worked_on) < end,
            col(LedgerEntry.kind).in_(["use", "overage"]),
            sa.or_(col(LedgerEntry.rate).is_(None), col(LedgerEntry.rate) != "late"),
        )
        .group_by(
            col(LedgerEntry.work_entry_id),
            col(LedgerEntry.kind),
            col(LedgerEntry.allotment_id),
            col(LedgerEntry.period_start),
            col(LedgerEntry.rate),
        )
    ).all()
    uses: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    overages: dict[tuple[date, str], list[tuple[int | None, int]]] = defaultdict(list)
    for work_entry_id, kind, allotment_id, period_start, rate, total in nets:
        if not total:
            continue
        if kind == "use":
            assert allotment_id is not None
            uses[allotment_id].append((work_entry_id, -int(total)))
        else:
            overages[(period_start, str(rate))].append((work_entry_id, -int(total)))
    for allotment_id, parts in uses.items():
        allotment = session.get(Allotment, allotment_id)
        assert allotment is not None
        book.use_many(session, allotment, parts, reason=REASON)
    for (period_start, rate), parts in overages.items():
        book.overage_many(
            session,
            contract_id=contract.id,
            period_start=period_start,
            rate=rate,
            parts=parts,
            reason=REASON,
        )
    effective = session.scalars(
        select(WorkEntry)
        .where(
            col(WorkEntry.contract_id) == contract.id,
            col(WorkEntry.kind) == "work",
            col(WorkEntry.late).is_(False),
            col(WorkEntry.worked_on) >= first_month,
            col(WorkEntry.worked_on) < end,
            col(WorkEntry.id).not_in(
                select(col(WorkEntry.reverses_id)).where(
                    col(WorkEntry.contract_id) == contract.id,
                    col(WorkEntry.reverses_id).is_not(None),
                )
            ),
        )
        .order_by(col(WorkEntry.worked_on), col(WorkEntry.id))
    ).all()
    for entry in effective:
        consume(
            session, contract=contract, plan=plan, entry=entry, enforce_cap=False, reason=REASON
        )
    for month in (first_month, add_months(first_month, 1)):
        alerts.check_thresholds(session, contract_id=contract.id, plan=plan, worked_on=month)


def pool_summary(session: Session, contract_id: int, first_month: date) -> PoolRead:
    pool = active_pool(session, contract_id, first_month)
    if pool is None:
        raise NotFound(f"contract {contract_id} has no pool starting {month_label(first_month)}")
    allotments = _allotments(session, contract_id, first_month)
    return PoolRead(
        contract_id=contract_id,
        first_month=month_label(first_month),
        months=[month_label(first_month), month_label(add_months(first_month, 1))],
        granted_minutes=sum(a.granted_minutes for a in allotments),
        expires_at=local_midnight(add_months(first_month, 2), _timezone(session, contract_id)),
        created_at=pool.created_at,
    )


def _timezone(session: Session, contract_id: int) -> str:
    contract = session.get(Contract, contract_id)
    assert contract is not None
    return contract.timezone
