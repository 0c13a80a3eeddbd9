"""The only code that appends ledger rows: each write also moves the running totals.

Because rows and totals change together, in one transaction, the totals can always be checked
against the sums of the rows (and a test does exactly that after every step).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session
from sqlmodel import select

from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage

RATES = ("overage", "on_demand", "late")


def _allotment_row(
    allotment: Allotment, *, kind: str, minutes: int, work_entry_id: int | None, reason: str
) -> LedgerEntry:
    return LedgerEntry(
        contract_id=allotment.contract_id,
        kind=kind,
        minutes=minutes,
        period_start=allotment.period_start,
        allotment_id=allotment.id,
        work_entry_id=work_entry_id,
        reason=reason,
    )


def _append(session: Session, entry: LedgerEntry) -> LedgerEntry:
    session.add(entry)
    session.flush()
    return entry


def grant(session: Session, allotment: Allotment, minutes: int, *, reason: str) -> None:
    """Add (or, when a contract is shortened, take back unused) minutes to an allotment."""
    if minutes == 0:
        return
    assert allotment.id is not None
    if minutes < 0 and -minutes > allotment.remaining_minutes:
        raise ValueError("cannot take back more minutes than remain")
    entry = _append(
        session,
        _allotment_row(allotment, kind="grant", minutes=minutes, work_entry_id=None, reason=reason),
    )
    allotment.granted_minutes += minutes
    allotment.remaining_minutes += minutes
    allotment.last_entry_id = entry.id
    session.flush()


def use(
    session: Session,
    allotment: Allotment,
    minutes: int,
    *,
    work_entry_id: int | None,
    reason: str,
) -> None:
    """Consume (+) or give back (−) minutes of an allotment for a work entry."""
    if minutes:
        use_many(session, allotment, [(work_entry_id, minutes)], reason=reason)


def expire(
    session: Session,
    allotment: Allotment,
    minutes: int,
    *,
    work_entry_id: int | None = None,
    reason: str,
) -> None:
    if minutes == 0:
        return
    assert allotment.id is not None
    if minutes < 0 or minutes > allotment.remaining_minutes:
        raise ValueError("can only expire remaining minutes")
    entry = _append(
        session,
        _allotment_row(
            allotment, kind="expire", minutes=minutes, work_entry_id=work_entry_id, reason=reason
        ),
    )
    allotment.expired_minutes += minutes
    allotment.remaining_minutes -= minutes
    allotment.last_entry_id = entry.id
    session.flush()


def period_overage(session: Session, contract_id: int, period_start: date) -> PeriodOverage:
    """The running overage totals of a period, created at zero on first use."""
    row = session.scalar(
        select(PeriodOverage).where(
            PeriodOverage.contract_id == contract_id, PeriodOverage.period_start == period_start
        )
    )
    if row is None:
        row = PeriodOverage(contract_id=contract_id, period_start=period_start)
        session.add(row)
        session.flush()
    return row


def period_totals(session: Session, contract_id: int, period_start: date) -> PeriodOverage:
    """The running overage totals of a period for a read: zeros when none exist, never created."""
    row = session.scalar(
        select(PeriodOverage).where(
            PeriodOverage.contract_id == contract_id, PeriodOverage.period_start == period_start
        )
    )
    return (
        row
        if row is not None
        else PeriodOverage(contract_id=contract_id, period_start=period_start)
    )


def overage(
    session: Session,
    *,
    contract_id: int,
    period_start: date,
    minutes: int,
    rate: str,
    work_entry_id: int | None,
    reason: str,
) -> None:
    """Add (+) or remove (−) uncovered minutes of a period at one rate."""
    if minutes:
        overage_many(
            session,
            contract_id=contract_id,
            period_start=period_start,
            rate=rate,
            parts=[(work_entry_id, minutes)],
            reason=reason,
        )


def use_many(
    session: Session, allotment: Allotment, parts: list[tuple[int | None, int]], *, reason: str
) -> None:
    """Several entries' use rows at once (a re-consumption giving everything back): one row per
    entry, the totals moved once by their sum, so no order of the parts can dip below zero."""
    assert allotment.id is not None
    total = sum(minutes for _, minutes in parts)
    if total > allotment.remaining_minutes or -total > allotment.used_minutes:
        raise ValueError("allotment totals would go negative")
    last = None
    for work_entry_id, minutes in parts:
        if minutes:
            last = _append(
                session,
                _allotment_row(
                    allotment,
                    kind="use",
                    minutes=minutes,
                    work_entry_id=work_entry_id,
                    reason=reason,
                ),
            )
    allotment.used_minutes += total
    allotment.remaining_minutes -= total
    if last is not None:
        allotment.last_entry_id = last.id
    session.flush()


def overage_many(
    session: Session,
    *,
    contract_id: int,
    period_start: date,
    rate: str,
    parts: list[tuple[int | None, int]],
    reason: str,
) -> None:
    """Like `use_many`, for a period's overage at one rate."""
    if rate not in RATES:
        raise ValueError(f"unknown rate {rate!r}")
    totals = period_overage(session, contract_id, period_start)
    column = f"{rate}_minutes"
    total = sum(minutes for _, minutes in parts)
    if getattr(totals, column) + total < 0:
        raise ValueError("period overage would go negative")
    for work_entry_id, minutes in parts:
        if minutes:
            _append(
                session,
                LedgerEntry(
                    contract_id=contract_id,
                    kind="overage",
                    minutes=minutes,
                    period_start=period_start,
                    work_entry_id=work_entry_id,
                    rate=rate,
                    reason=reason,
                ),
            )
    setattr(totals, column, getattr(totals, column) + total)
    session.flush()
