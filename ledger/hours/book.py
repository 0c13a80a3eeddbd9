"""The only code that appends ledger rows: each write also moves the running totals.

Because rows and totals change together, in one transaction, the totals can always be checked
against the sums of the rows (and a test does exactly that after every step).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.bulk import insert_rows_ids
from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage

RATES = ("overage", "on_demand", "late")


Row = dict[str, Any]


def ledger_row(
    *,
    contract_id: int,
    kind: str,
    minutes: int,
    period_start: date,
    allotment_id: int | None = None,
    work_entry_id: int | None,
    rate: str | None = None,
    reason: str,
) -> Row:
    """A ledger row's columns: every column but the id, so rows can go in one executemany."""
    return {
        "contract_id": contract_id,
        "kind": kind,
        "minutes": minutes,
        "period_start": period_start,
        "allotment_id": allotment_id,
        "work_entry_id": work_entry_id,
        "rate": rate,
        "reason": reason,
        "created_at": utcnow(),
    }


def allotment_ledger_row(
    allotment: Allotment, *, kind: str, minutes: int, work_entry_id: int | None, reason: str
) -> Row:
    return ledger_row(
        contract_id=allotment.contract_id,
        kind=kind,
        minutes=minutes,
        period_start=allotment.period_start,
        allotment_id=allotment.id,
        work_entry_id=work_entry_id,
        reason=reason,
    )


_DEFERRED = "hours.book.deferred"


@dataclass
class Deferred:
    """Ledger rows appended inside `deferred`, in order, each with the allotment it moved."""

    rows: list[tuple[Row, Allotment | None]] = field(default_factory=list)
    overages: dict[tuple[int, date], PeriodOverage] = field(default_factory=dict)
    loaded: set[tuple[int, date]] = field(default_factory=set)  # read (found or not) at once
    many: bool = False  # a batch: ids reserved apart, rows in one plain executemany

    def load_overages(self, session: Session, keys: set[tuple[int, date]]) -> None:
        """Read the running overage totals of these (contract, period) pairs in one query,
        as `period_overage` would one by one; a pair without a row is created on first use."""
        keys = keys - self.loaded
        if not keys:
            return
        contract_ids = {contract_id for contract_id, _ in keys}
        starts = {period_start for _, period_start in keys}
        for row in session.scalars(
            select(PeriodOverage).where(
                col(PeriodOverage.contract_id).in_(contract_ids),
                col(PeriodOverage.period_start).in_(starts),
            )
        ):
            key = (row.contract_id, row.period_start)
            if key in keys:
                self.overages.setdefault(key, row)
        self.loaded |= keys

    def write(self, session: Session) -> None:
        if self.rows:
            table = LedgerEntry.__table__  # type: ignore[attr-defined]
            rows = [row for row, _ in self.rows]
            if self.many:
                ids = insert_rows_ids(session, table, rows)
            else:
                ids = list(session.scalars(_insert_returning_ids(), rows))
            assert len(ids) == len(self.rows)
            for (row, allotment), new_id in zip(self.rows, ids, strict=True):
                row["id"] = new_id
                if allotment is not None:
                    allotment.last_entry_id = new_id
        session.flush()  # the running totals, once per allotment and period


@functools.cache
def _insert_returning_ids() -> Any:
    """`Deferred.write`'s INSERT of a single post's ledger rows, built once: the ids come back
    in the rows' order."""
    table = LedgerEntry.__table__  # type: ignore[attr-defined]
    return sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)


@contextmanager
def deferred(session: Session, *, many: bool = False) -> Iterator[Deferred]:
    """Within it, the functions below collect their ledger rows instead of flushing each one;
    the running totals move in memory exactly as outside it (every check reads them). On a
    normal exit the rows are written in one multi-row INSERT (ids in append order, so each
    allotment's `last_entry_id` is the row appended last), then the totals in one flush.

    For a batch under its contracts' locks and `no_autoflush`: nothing may read ledger rows
    or period totals from the database in between except through these functions. On an
    exception nothing is written: the caller rolls the transaction back.

    Yields the collected rows (`rows`: each row's columns and its allotment; after the exit
    each row's `id` is set), so a caller can answer from what it wrote without reading it
    back. Nested, it yields the outer collection, written at the outer exit.

    `many`: for a batch, the rows go through `ledger.bulk.insert_rows_ids` (on
    PostgreSQL their ids reserved in one query, then one plain executemany) rather than one
    multi-row `INSERT … RETURNING` that psycopg re-parses at every call."""
    outer = _pending(session)
    if outer is not None:
        yield outer
        return
    state = Deferred(many=many)
    session.info[_DEFERRED] = state
    try:
        yield state
        state.write(session)
    finally:
        del session.info[_DEFERRED]


def _pending(session: Session) -> Deferred | None:
    state = session.info.get(_DEFERRED)
    return state if isinstance(state, Deferred) else None


def _append(session: Session, row: Row, allotment: Allotment | None = None) -> None:
    state = _pending(session)
    if state is not None:
        state.rows.append((row, allotment))
        return
    entry = LedgerEntry(**row)
    session.add(entry)
    session.flush()
    if allotment is not None:
        allotment.last_entry_id = entry.id


def _flush(session: Session) -> None:
    if _pending(session) is None:
        session.flush()


def grant(session: Session, allotment: Allotment, minutes: int, *, reason: str) -> None:
    """Add (or, when a contract is shortened, take back unused) minutes to an allotment."""
    if minutes == 0:
        return
    assert allotment.id is not None
    if minutes < 0 and -minutes > allotment.remaining_minutes:
        raise ValueError("cannot take back more minutes than remain")
    _append(
        session,
        allotment_ledger_row(
            allotment, kind="grant", minutes=minutes, work_entry_id=None, reason=reason
        ),
        allotment,
    )
    allotment.granted_minutes += minutes
    allotment.remaining_minutes += minutes
    _flush(session)


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
    _append(
        session,
        allotment_ledger_row(
            allotment, kind="expire", minutes=minutes, work_entry_id=work_entry_id, reason=reason
        ),
        allotment,
    )
    allotment.expired_minutes += minutes
    allotment.remaining_minutes -= minutes
    _flush(session)


def period_overage(session: Session, contract_id: int, period_start: date) -> PeriodOverage:
    """The running overage totals of a period, created at zero on first use."""
    state = _pending(session)
    key = (contract_id, period_start)
    if state is not None and key in state.overages:
        return state.overages[key]
    row = (
        None
        if state is not None and key in state.loaded  # read already: it has no row
        else session.scalar(
            _period_overage(), {"contract_id": contract_id, "period_start": period_start}
        )
    )
    if row is None:
        row = PeriodOverage(contract_id=contract_id, period_start=period_start)
        session.add(row)
        _flush(session)
    if state is not None:
        state.overages[(contract_id, period_start)] = row
    return row


@functools.cache
def _period_overage() -> sa.Select[Any]:
    """`period_overage`'s query, built once (a post beyond its allotment reads it)."""
    table = PeriodOverage.__table__  # type: ignore[attr-defined]
    return select(PeriodOverage).where(
        col(PeriodOverage.contract_id)
        == sa.bindparam("contract_id", type_=table.c.contract_id.type),
        col(PeriodOverage.period_start)
        == sa.bindparam("period_start", type_=table.c.period_start.type),
    )


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
    for work_entry_id, minutes in parts:
        if minutes:
            _append(
                session,
                allotment_ledger_row(
                    allotment,
                    kind="use",
                    minutes=minutes,
                    work_entry_id=work_entry_id,
                    reason=reason,
                ),
                allotment,
            )
    allotment.used_minutes += total
    allotment.remaining_minutes -= total
    _flush(session)


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
                ledger_row(
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
    _flush(session)
