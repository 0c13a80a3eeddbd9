"""Balance and statement: read from the running totals, never by summing the ledger.

Both are reads: they take no lock and write nothing. A period whose allotment nobody has
granted yet is shown with the allotment `ensure_allotments` would grant (SPEC "Security")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import Session, aliased
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import get_contract, plan_of
from ledger.errors import NotFound
from ledger.hours import book
from ledger.hours.allotments import check_grantable, pending_allotment
from ledger.hours.errors import OutsideContract
from ledger.hours.models import Allotment, PeriodOverage, WorkEntry
from ledger.hours.schemas import AllotmentRead, BalanceRead, StatementRead
from ledger.hours.work import allotment_months, to_reads
from ledger.periods import add_months, local_date, month_label, period_containing


def summarise(allotments: Sequence[Allotment], *, now: datetime) -> AllotmentRead:
    """One line for an allotment, or for the two allotments of a pool.

    Hours whose expiry instant has passed show as expired even before the billing run writes
    the expiry entry."""
    granted = sum(a.granted_minutes for a in allotments)
    used = sum(a.used_minutes for a in allotments)
    expired = sum(a.expired_minutes for a in allotments)
    remaining = sum(a.remaining_minutes for a in allotments)
    expires_at = max(a.expires_at for a in allotments)
    if now >= expires_at:
        expired, remaining = expired + remaining, 0
    months = sorted({m for a in allotments for m in allotment_months(a)})
    return AllotmentRead(
        months=months,
        granted_minutes=granted,
        used_minutes=used,
        expired_minutes=expired,
        remaining_minutes=remaining,
        expires_at=expires_at,
        pooled=any(a.pool_first_month is not None for a in allotments),
    )


def _group_pools(allotments: Sequence[Allotment]) -> list[list[Allotment]]:
    groups: dict[object, list[Allotment]] = {}
    for allotment in allotments:
        key = ("pool", allotment.pool_first_month) if allotment.pool_first_month else allotment.id
        groups.setdefault(key, []).append(allotment)
    return list(groups.values())


def period_allotments(
    session: Session, contract_id: int, period_start: date
) -> Sequence[Allotment]:
    """What a period's figures are made of: its allotment, or both allotments of its pool."""
    own = session.scalar(
        select(Allotment).where(
            col(Allotment.contract_id) == contract_id,
            col(Allotment.period_start) == period_start,
        )
    )
    if own is None:
        return []
    if own.pool_first_month is None:
        return [own]
    return session.scalars(
        select(Allotment).where(
            col(Allotment.contract_id) == contract_id,
            col(Allotment.pool_first_month) == own.pool_first_month,
        )
    ).all()


def balance(
    session: Session,
    contract_id: int,
    *,
    at: datetime,
    now: datetime,
    loaded: tuple[Contract, Plan] | None = None,
) -> BalanceRead:
    """`loaded`: the contract and its plan as `contract_and_plan` read them, if the caller
    already did (the route, which checks who may see it first)."""
    contract, plan = loaded if loaded is not None else contract_and_plan(session, contract_id)
    assert contract.id is not None
    day = local_date(at, contract.timezone)
    check_grantable(contract, plan, day, now=utcnow(), field="at")
    period = period_containing(day, plan.period)
    valid, latest, overage_minutes = _balance_rows(session, contract.id, day, period.start)
    if not any(a.period_start >= period.start for a in valid):  # else it is granted
        pending = pending_allotment(session, contract, plan, period, latest=latest)
        if pending is not None:
            valid.append(pending)  # the latest expiry: it sorts last
    lines = [summarise(group, now=at) for group in _group_pools(valid)]
    return BalanceRead(
        contract_id=contract.id,
        at=at,
        period=period.label,
        remaining_minutes=sum(line.remaining_minutes for line in lines),
        overage_minutes=overage_minutes,
        allotments=lines,
    )


def _balance_rows(
    session: Session, contract_id: int, day: date, period_start: date
) -> tuple[list[Allotment], date | None, int]:
    """A balance's data in one query: the allotments usable on `day` (earliest expiry first),
    the latest granted period start (None for none: what `pending_allotment` reads) and the
    period's overage plus on-demand minutes from its running totals (0 when it has none, as
    `book.period_totals`). One row even when no allotment is usable (an outer join)."""
    granted = aliased(Allotment)
    latest = (
        select(func.max(granted.period_start))
        .where(granted.contract_id == contract_id)
        .scalar_subquery()
    )
    uncovered = (
        select(col(PeriodOverage.overage_minutes) + col(PeriodOverage.on_demand_minutes))
        .where(
            col(PeriodOverage.contract_id) == contract_id,
            col(PeriodOverage.period_start) == period_start,
        )
        .scalar_subquery()
    )
    one = sa.select(sa.literal(1).label("one")).subquery()
    rows = session.execute(
        select(Allotment, latest.label("latest"), uncovered.label("uncovered"))
        .select_from(one)
        .outerjoin(
            Allotment,
            sa.and_(
                col(Allotment.contract_id) == contract_id,
                col(Allotment.valid_from) <= day,
                col(Allotment.valid_until) > day,
            ),
        )
        .order_by(col(Allotment.expires_at), col(Allotment.id))
    ).all()
    valid = [row[0] for row in rows if row[0] is not None]
    return valid, rows[0].latest, int(rows[0].uncovered or 0)


def contract_and_plan(
    session: Session, contract_id: int, *, visible_to: int | None = None
) -> tuple[Contract, Plan]:
    """A contract and its plan in one query (a read: no lock); `visible_to` as for
    `get_contract`: another customer's contract is not found."""
    row = session.execute(
        select(Contract, Plan)
        .join(Plan, col(Plan.id) == col(Contract.plan_id))
        .where(col(Contract.id) == contract_id)
    ).first()
    if row is None or (visible_to is not None and row[0].customer_id != visible_to):
        raise NotFound(f"no contract {contract_id}")
    return row[0], row[1]


def statement(session: Session, contract_id: int, *, month: date, now: datetime) -> StatementRead:
    contract = get_contract(session, contract_id)
    plan = plan_of(session, contract)
    assert contract.id is not None
    month_end = add_months(month, 1)
    _check_month_inside(contract, month, month_end)
    check_grantable(contract, plan, month, now=utcnow(), field="month")
    period = period_containing(month, plan.period)
    shown = period_allotments(session, contract.id, period.start)
    if not shown:
        pending = pending_allotment(session, contract, plan, period)
        shown = [pending] if pending is not None else []
    summary = summarise(shown, now=now) if shown else None
    overage, late = _month_overage(
        session, contract.id, month=month, month_end=month_end, whole_period=period.months == 1
    )
    entries = session.scalars(
        select(WorkEntry)
        .where(
            col(WorkEntry.contract_id) == contract.id,
            col(WorkEntry.worked_on) >= month,
            col(WorkEntry.worked_on) < month_end,
        )
        .order_by(col(WorkEntry.worked_on), col(WorkEntry.id))
    ).all()
    return StatementRead(
        contract_id=contract.id,
        month=month_label(month),
        period=period.label,
        pooled=bool(summary and summary.pooled),
        granted_minutes=summary.granted_minutes if summary else 0,
        used_minutes=summary.used_minutes if summary else 0,
        expired_minutes=summary.expired_minutes if summary else 0,
        remaining_minutes=summary.remaining_minutes if summary else 0,
        overage_minutes=overage,
        late_minutes=late,
        entries=to_reads(session, entries),
    )


def _check_month_inside(contract: Contract, month: date, month_end: date) -> None:
    """A statement covers a month of the contract, like availability and the SLA report."""
    if month_end <= contract.start_date or (
        contract.end_date is not None and month > contract.end_date
    ):
        raise OutsideContract(
            f"{month_label(month)} is outside contract {contract.id} "
            f"({contract.start_date.isoformat()} – "
            f"{contract.end_date.isoformat() if contract.end_date else 'open-ended'})",
            field="month",
        )


def _month_overage(
    session: Session, contract_id: int, *, month: date, month_end: date, whole_period: bool
) -> tuple[int, int]:
    """Overage (any rate but late) and late minutes of work dated in the month.

    A monthly period's figures are its running totals. A quarter's overage belongs to the
    quarter as a whole (a reversal takes it back first, whichever month made it), so it is
    told per month by handing it to the latest months' work first: the months' figures are
    never negative and add up to the quarter's."""
    if whole_period:
        totals = book.period_totals(session, contract_id, month)
        return totals.overage_minutes + totals.on_demand_minutes, totals.late_minutes
    quarter = period_containing(month, "quarter")
    totals = book.period_totals(session, contract_id, quarter.start)
    rows = session.execute(
        select(
            col(WorkEntry.worked_on), col(WorkEntry.late), col(WorkEntry.billable_minutes)
        ).where(
            col(WorkEntry.contract_id) == contract_id,
            col(WorkEntry.worked_on) >= quarter.start,
            col(WorkEntry.worked_on) < quarter.end,
        )
    ).all()
    billable: dict[date, int] = {}
    late = 0
    for worked_on, is_late, minutes in rows:
        if is_late:
            late += minutes if month <= worked_on < month_end else 0
            continue
        first = worked_on.replace(day=1)
        billable[first] = billable.get(first, 0) + minutes
    left = totals.overage_minutes + totals.on_demand_minutes
    share = 0
    for first in sorted(billable, reverse=True):
        part = min(left, max(billable[first], 0))
        if first == month:
            share = part
        left -= part
    return share, late
