"""Granting allotments: on time, without anyone asking, pro-rated for partial periods.

Nothing grants on a timer: every path that reads or writes a contract's hours first calls
`ensure_allotments` up to the date it cares about, so a month nobody has closed yet still has
its allotment the moment anyone looks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.hours import book
from ledger.hours.models import Allotment
from ledger.periods import Period, local_midnight, overlap_days, period_containing


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


def ensure_allotments(
    session: Session, contract: Contract, plan: Plan, *, through: date
) -> Sequence[Allotment]:
    """Grant every missing allotment up to the period containing `through`. Idempotent.

    Allotments are always granted in period order, so only the periods after the latest one
    granted can be missing: a read costs the same in the contract's tenth year as in its first.
    The caller holds the contract lock."""
    assert contract.id is not None
    latest = session.scalar(
        select(func.max(Allotment.period_start)).where(col(Allotment.contract_id) == contract.id)
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
