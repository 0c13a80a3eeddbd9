"""Balance and statement: read from the running totals, never by summing the ledger.

Both are reads: they take no lock and write nothing. A period whose allotment nobody has
granted yet is shown with the allotment `ensure_allotments` would grant (SPEC "Security")."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

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


@dataclass(frozen=True, slots=True)
class AllotmentFigures:
    """What a balance shows of a stored allotment (the columns `_balance_statement` reads)."""

    id: int | None
    period_start: date
    period_end: date
    valid_from: date
    valid_until: date
    expires_at: datetime
    pool_first_month: date | None
    granted_minutes: int
    used_minutes: int
    expired_minutes: int
    remaining_minutes: int


# A balance shows stored allotments as figures and a pending one as the unsaved `Allotment`
# that `pending_allotment` computes; a statement shows stored `Allotment`s.
Shown = Allotment | AllotmentFigures


def summarise(allotments: Sequence[Shown], *, now: datetime) -> AllotmentRead:
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


def _group_pools(allotments: Sequence[Shown]) -> list[list[Shown]]:
    groups: dict[object, list[Shown]] = {}
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
    visible_to: int | None = None,
) -> BalanceRead:
    """`visible_to` as for `get_contract`: another customer's contract is not found.

    The contract, its plan and everything the balance shows come from one query
    (`_balance_statement`), read before the contract's time zone is known: it reads the
    allotments usable on any day within one day of `at`'s UTC date (a local date lies
    within one day of it in every zone) and the overage totals of each period such a day
    can fall in; the exact day then picks what it shows."""
    utc_day = at.astimezone(UTC).date()
    first_day, last_day = utc_day - timedelta(days=1), utc_day + timedelta(days=1)
    starts = [
        period_containing(day, kind).start
        for kind in ("month", "quarter")
        for day in (first_day, last_day)
    ]
    rows = session.execute(
        _balance_statement(),
        {
            "contract_id": contract_id,
            "first_day": first_day,
            "last_day": last_day,
            **{f"start_{index}": start for index, start in enumerate(starts)},
        },
    ).all()
    if not rows or (visible_to is not None and rows[0][0].customer_id != visible_to):
        raise NotFound(f"no contract {contract_id}")
    contract, plan = rows[0][0], rows[0][1]
    assert contract.id is not None
    day = local_date(at, contract.timezone)
    check_grantable(contract, plan, day, now=utcnow(), field="at")
    period = period_containing(day, plan.period)
    stored = [AllotmentFigures(*row[2 : 2 + len(_FIGURES)]) for row in rows if row[2] is not None]
    # Usable on `day`, earliest expiry first (the query's order).
    valid: list[Shown] = [a for a in stored if a.valid_from <= day < a.valid_until]
    uncovered = rows[0][3 + len(_FIGURES) + starts.index(period.start)]
    if not any(a.period_start >= period.start for a in valid):  # else it is granted
        latest = rows[0][2 + len(_FIGURES)]
        pending = pending_allotment(session, contract, plan, period, latest=latest)
        if pending is not None:
            valid.append(pending)  # the latest expiry: it sorts last
    lines = [summarise(group, now=at) for group in _group_pools(valid)]
    return BalanceRead(
        contract_id=contract.id,
        at=at,
        period=period.label,
        remaining_minutes=sum(line.remaining_minutes for line in lines),
        overage_minutes=int(uncovered or 0),  # 0 without totals, as `book.period_totals`
        allotments=lines,
    )


_allotments: sa.Table = Allotment.__table__  # type: ignore[attr-defined]
_overages: sa.Table = PeriodOverage.__table__  # type: ignore[attr-defined]
_FIGURES = (
    "id",
    "period_start",
    "period_end",
    "valid_from",
    "valid_until",
    "expires_at",
    "pool_first_month",
    "granted_minutes",
    "used_minutes",
    "expired_minutes",
    "remaining_minutes",
)


@functools.cache
def _balance_statement() -> sa.Select[Any]:
    """Built once: building the expression (an aliased table, five sub-selects) cost more
    than running it, on every balance read (issue #12). Its rows: the contract and its plan
    (one outer-joined row per allotment of the window, or one with none), the allotment's
    figures, the latest granted period start (None for none: what `pending_allotment`
    reads) and the overage plus on-demand minutes of each candidate period (`start_0…3`)."""
    contract_id: sa.BindParameter[int] = sa.bindparam("contract_id", type_=sa.Integer())
    granted = _allotments.alias("granted")
    latest = (
        sa.select(func.max(granted.c.period_start))
        .where(granted.c.contract_id == contract_id)
        .scalar_subquery()
    )
    uncovered = [
        sa.select(_overages.c.overage_minutes + _overages.c.on_demand_minutes)
        .where(
            _overages.c.contract_id == contract_id,
            _overages.c.period_start == sa.bindparam(f"start_{index}", type_=sa.Date()),
        )
        .scalar_subquery()
        .label(f"uncovered_{index}")
        for index in range(4)
    ]
    return (
        sa.select(
            Contract,
            Plan,
            *(_allotments.c[name] for name in _FIGURES),
            latest.label("latest"),
            *uncovered,
        )
        .join(Plan, col(Plan.id) == col(Contract.plan_id))
        .outerjoin(
            _allotments,
            sa.and_(
                _allotments.c.contract_id == col(Contract.id),
                _allotments.c.valid_from <= sa.bindparam("last_day", type_=sa.Date()),
                _allotments.c.valid_until > sa.bindparam("first_day", type_=sa.Date()),
            ),
        )
        .where(col(Contract.id) == contract_id)
        .order_by(_allotments.c.expires_at, _allotments.c.id)
    )


@functools.cache
def _contract_and_plan_statement() -> Select[Contract, Plan]:
    return (
        select(Contract, Plan)
        .join(Plan, col(Plan.id) == col(Contract.plan_id))
        .where(col(Contract.id) == sa.bindparam("contract_id"))
    )


def contract_and_plan(
    session: Session, contract_id: int, *, visible_to: int | None = None
) -> tuple[Contract, Plan]:
    """A contract and its plan in one query (a read: no lock; the statement built once);
    `visible_to` as for `get_contract`: another customer's contract is not found."""
    row = session.execute(_contract_and_plan_statement(), {"contract_id": contract_id}).first()
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
