"""Granting allotments: on time, without anyone asking, pro-rated for partial periods.

Nothing grants on a timer: every path that reads or writes a contract's hours first calls
`ensure_allotments` up to the date it cares about, so a month nobody has closed yet still has
its allotment the moment anyone looks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.errors import InvalidInput
from ledger.hours import book
from ledger.hours.models import Allotment
from ledger.periods import Period, local_date, local_midnight, overlap_days, period_containing


def last_grantable_day(contract: Contract, plan: Plan, *, now: datetime) -> date:
    """The last day of the period after the current one (in the contract's time zone): no
    request makes the service grant hours beyond it (SPEC "Units and money", bounds)."""
    current = period_containing(local_date(now, contract.timezone), plan.period)
    return current.next().end - timedelta(days=1)


def check_grantable(
    contract: Contract, plan: Plan, day: date, *, now: datetime, field: str
) -> None:
    """Refuse a request about a day whose hours are not granted that far ahead."""
    limit = last_grantable_day(contract, plan, now=now)
    if day > limit:
        raise InvalidInput(
            f"{day.isoformat()} lies beyond {period_containing(limit, plan.period).label}, the "
            f"period after contract {contract.id}'s current one: its hours are not granted yet",
            field=field,
        )


def prorated_minutes(plan: Plan, contract: Contract, period: Period) -> int:
    """The plan's hours for the days of `period` the contract covers, rounded half-up to the
    billing increment (SPEC worked example 4: 1200 × 12/31 = 464.5… → 465)."""
    days = overlap_days(period, contract.start_date, contract.end_date)
    if days == period.days:
        return plan.included_minutes
    exact = Decimal(plan.included_minutes) * days / period.days
    increments = (exact / plan.billing_increment_minutes).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(increments) * plan.billing_increment_minutes


def contract_periods(contract: Contract, plan: Plan, *, through: date) -> Iterator[Period]:
    """The contract's periods from its first through the one containing `through`."""
    period = period_containing(contract.start_date, plan.period)
    last_day = through if contract.end_date is None else min(through, contract.end_date)
    while period.start <= last_day:
        yield period
        period = period.next()


_UNKNOWN: Any = object()


def latest_granted(session: Session, contract_ids: Sequence[int]) -> dict[int, date]:
    """Each contract's latest granted period start, in one query (contracts with none are
    absent): what `ensure_allotments` reads first, for a batch of contracts."""
    if not contract_ids:
        return {}
    return {
        contract_id: latest
        for contract_id, latest in session.execute(
            select(col(Allotment.contract_id), func.max(Allotment.period_start))
            .where(col(Allotment.contract_id).in_(contract_ids))
            .group_by(col(Allotment.contract_id))
        )
    }


def ensure_allotments(
    session: Session, contract: Contract, plan: Plan, *, through: date, latest: Any = _UNKNOWN
) -> Sequence[Allotment]:
    """Grant every missing allotment up to the period containing `through`. Idempotent.

    Allotments are always granted in period order, so only the periods after the latest one
    granted can be missing: a read costs the same in the contract's tenth year as in its first.
    Never grants beyond the period after the current one, whatever `through` says.
    The caller holds the contract lock. `latest`: the latest granted period start (None for
    none) when the caller read it already, under that lock."""
    assert contract.id is not None
    through = min(through, last_grantable_day(contract, plan, now=utcnow()))
    if latest is _UNKNOWN:
        latest = session.scalar(
            select(func.max(Allotment.period_start)).where(
                col(Allotment.contract_id) == contract.id
            )
        )
    if latest is not None and latest >= period_containing(through, plan.period).start:
        return []
    created = []
    for period in contract_periods(contract, plan, through=through):
        if latest is not None and period.start <= latest:
            continue
        minutes = prorated_minutes(plan, contract, period)
        if minutes == 0:
            continue
        allotment = Allotment(
            contract_id=contract.id,
            period_start=period.start,
            period_end=period.end,
            valid_from=period.start,
            valid_until=period.end,
            expires_at=local_midnight(period.end, contract.timezone),
        )
        session.add(allotment)
        session.flush()
        book.grant(session, allotment, minutes, reason="period_start")
        created.append(allotment)
    return created


def pending_allotment(
    session: Session, contract: Contract, plan: Plan, period: Period, *, latest: Any = _UNKNOWN
) -> Allotment | None:
    """The allotment `ensure_allotments` would grant for `period`, computed, never stored.

    Reads (balances, statements) show a period nobody has granted yet through it, so a GET
    never writes (SPEC "Security"). None when the period is granted already or gets nothing.
    Periods are granted in order, so only a period after the latest granted one can be pending.
    `latest`: the latest granted period start (None for none) when the caller read it already."""
    assert contract.id is not None
    if latest is _UNKNOWN:
        latest = session.scalar(
            select(func.max(Allotment.period_start)).where(
                col(Allotment.contract_id) == contract.id
            )
        )
    if latest is not None and period.start <= latest:
        return None
    minutes = prorated_minutes(plan, contract, period)
    if minutes == 0:
        return None
    return Allotment(
        contract_id=contract.id,
        period_start=period.start,
        period_end=period.end,
        valid_from=period.start,
        valid_until=period.end,
        expires_at=local_midnight(period.end, contract.timezone),
        granted_minutes=minutes,
        remaining_minutes=minutes,
    )


def valid_allotments(session: Session, contract_id: int, worked_on: date) -> Sequence[Allotment]:
    """Allotments work dated `worked_on` may draw on: earliest expiry first, then oldest grant."""
    return session.scalars(
        select(Allotment)
        .where(
            col(Allotment.contract_id) == contract_id,
            col(Allotment.valid_from) <= worked_on,
            col(Allotment.valid_until) > worked_on,
        )
        .order_by(col(Allotment.expires_at), col(Allotment.period_start), col(Allotment.id))
    ).all()
