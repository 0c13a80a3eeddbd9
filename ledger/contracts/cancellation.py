"""Cancelling a contract: the end date moves, and the hours granted beyond it are taken back.

Only unused minutes can be taken back, and never from a period already invoiced; work recorded
after the new end date must be reversed first, so the ledger never holds work outside its
contract.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session
from sqlmodel import col, func, select

from ledger.contracts.models import Contract
from ledger.contracts.service import cancel_contract, lock_contract, plan_of
from ledger.errors import Conflict
from ledger.hours import book
from ledger.hours.allotments import prorated_minutes
from ledger.hours.models import Allotment, ClosedPeriod, WorkEntry
from ledger.periods import Period


def cancel(session: Session, contract_id: int, end_date: date) -> Contract:
    contract = lock_contract(session, contract_id)
    plan = plan_of(session, contract)
    last_closed = session.scalar(
        select(func.max(ClosedPeriod.period_end)).where(
            col(ClosedPeriod.contract_id) == contract_id
        )
    )
    # period_end is exclusive; end_date is the contract's last (inclusive) day.
    if last_closed is not None and end_date < last_closed - timedelta(days=1):
        last_invoiced_day = last_closed - timedelta(days=1)
        raise Conflict(
            f"contract {contract_id} is invoiced up to {last_invoiced_day.isoformat()}: it "
            "cannot end before that",
            field="end_date",
        )
    later_work = session.scalar(
        select(func.coalesce(func.sum(WorkEntry.billable_minutes), 0)).where(
            col(WorkEntry.contract_id) == contract_id, col(WorkEntry.worked_on) > end_date
        )
    )  # reversed work nets to zero with its reversal
    if later_work:
        raise Conflict(
            f"contract {contract_id} has work recorded after {end_date.isoformat()}: reverse it "
            "before cancelling",
            field="end_date",
        )
    cancel_contract(session, contract, end_date)
    for allotment in session.scalars(
        select(Allotment)
        .where(col(Allotment.contract_id) == contract_id, col(Allotment.closed).is_(False))
        .order_by(col(Allotment.period_start))
    ):
        period = Period(allotment.period_start, allotment.period_end)
        now_due = prorated_minutes(plan, contract, period)
        excess = allotment.granted_minutes - now_due
        take_back = min(max(excess, 0), allotment.remaining_minutes)
        if take_back:
            book.grant(session, allotment, -take_back, reason="contract_shortened")
    return contract
