"""Closing a period: the hours that expire with it are written off and the next are granted.

Called by the month-end billing run, once per contract and period, in period order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.errors import Conflict
from ledger.hours import book
from ledger.hours.allotments import ensure_allotments
from ledger.hours.models import Allotment, ClosedPeriod
from ledger.periods import Period, local_midnight


def period_has_ended(contract: Contract, period: Period, now: datetime) -> bool:
    return now >= local_midnight(period.end, contract.timezone)


def close_period(
    session: Session, contract: Contract, plan: Plan, period: Period, *, now: datetime
) -> ClosedPeriod:
    """Idempotent; the caller holds the contract lock."""
    assert contract.id is not None
    existing = session.scalar(
        select(ClosedPeriod).where(
            col(ClosedPeriod.contract_id) == contract.id,
            col(ClosedPeriod.period_start) == period.start,
        )
    )
    if existing is not None:
        return existing
    if not period_has_ended(contract, period, now):
        raise Conflict(f"period {period.label} has not ended yet: it can only be previewed")
    ensure_allotments(session, contract, plan, through=period.end - timedelta(days=1))
    end_instant = local_midnight(period.end, contract.timezone)
    expiring = session.scalars(
        select(Allotment)
        .where(
            col(Allotment.contract_id) == contract.id,
            col(Allotment.expires_at) <= end_instant,
            col(Allotment.closed).is_(False),
        )
        .order_by(col(Allotment.id))
    ).all()
    for allotment in expiring:
        book.expire(session, allotment, allotment.remaining_minutes, reason="period_end")
        allotment.closed = True
    closed = ClosedPeriod(contract_id=contract.id, period_start=period.start, period_end=period.end)
    session.add(closed)
    session.flush()
    # The next period's hours are there from its first instant.
    ensure_allotments(session, contract, plan, through=period.end)
    return closed
