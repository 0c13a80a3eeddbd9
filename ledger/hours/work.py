"""Posting work, reversing it, and reading it back with what covered each minute."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import Session, aliased
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.bulk import insert_rows_ids
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import (
    get_contract,
    lock_contract,
    lock_contract_and_plan,
    lock_contracts_and_plans,
)
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.hours import alerts, book
from ledger.hours.after_hours import billable_minutes, multiplier_for
from ledger.hours.allotments import ensure_allotments, latest_granted, valid_allotments
from ledger.hours.consumption import consume
from ledger.hours.errors import AlreadyReversed, OutsideContract, PeriodClosed
from ledger.hours.models import Allotment, ClosedPeriod, LedgerEntry, WorkEntry
from ledger.hours.schemas import Coverage, WorkEntryCreate, WorkEntryRead
from ledger.periods import local_date, month_label, period_containing


def is_closed(session: Session, contract_id: int, period_start: date) -> bool:
    return (
        session.scalar(
            select(ClosedPeriod.id).where(
                col(ClosedPeriod.contract_id) == contract_id,
                col(ClosedPeriod.period_start) == period_start,
            )
        )
        is not None
    )


def _check_inside(contract: Contract, worked_on: date) -> None:
    if worked_on < contract.start_date or (
        contract.end_date is not None and worked_on > contract.end_date
    ):
        raise OutsideContract(
            f"{worked_on.isoformat()} is outside contract {contract.id} "
            f"({contract.start_date.isoformat()} – "
            f"{contract.end_date.isoformat() if contract.end_date else 'open-ended'})",
            field="worked_on",
        )


def _check_when(contract: Contract, data: WorkEntryCreate) -> None:
    """SPEC bounds: work is not dated after tomorrow in the contract's time zone, and its
    `started_at` falls on `worked_on` there."""
    tomorrow = local_date(utcnow(), contract.timezone) + timedelta(days=1)
    if data.worked_on > tomorrow:
        raise InvalidInput(
            f"{data.worked_on.isoformat()} is after tomorrow ({tomorrow.isoformat()} in "
            f"{contract.timezone}): work is recorded once it is done",
            field="worked_on",
        )
    if data.started_at is not None:
        local = local_date(data.started_at, contract.timezone)
        if local != data.worked_on:
            raise InvalidInput(
                f"started_at is on {local.isoformat()} in {contract.timezone}, not on worked_on "
                f"{data.worked_on.isoformat()}",
                field="started_at",
            )


def post_work(session: Session, contract_id: int, data: WorkEntryCreate) -> WorkEntry:
    """Record work and consume its billable minutes, all under the contract's lock."""
    return post_and_read(session, contract_id, data)[0]


def post_and_read(
    session: Session, contract_id: int, data: WorkEntryCreate
) -> tuple[WorkEntry, WorkEntryRead]:
    """`post_work`, and the entry as `to_reads` would read it back, from what was written.

    In as few statements as the rules allow: the contract and plan locked in one query; its
    closed period, latest grant and allotments usable that day in one more (`_load_for_post`);
    the entry; its ledger rows in one INSERT (`book.deferred`), then the running totals."""
    contract, plan = lock_contract_and_plan(session, contract_id)
    with session.no_autoflush:  # every write below flushes itself; queries need no autoflush
        _check_inside(contract, data.worked_on)
        _check_when(contract, data)
        closed, valid = _load_for_post(session, contract, plan, data)
        entry = _prepare(session, contract, plan, data, closed_periods=closed)
        session.add(entry)
        session.flush()
        with book.deferred(session) as written:
            _book(session, contract, plan, entry, candidates=valid)
    return entry, reads_of_posted([entry], written)[0]


def _load_for_post(
    session: Session, contract: Contract, plan: Plan, data: WorkEntryCreate
) -> tuple[set[date], list[Allotment]]:
    """For one entry, in one query under the contract's lock: whether its period is closed,
    the latest granted period (to grant what is missing, as `ensure_allotments` does) and the
    allotments usable on its date in consumption order (as `valid_allotments` reads them).
    Late work consumes nothing: it grants nothing either (as before)."""
    assert contract.id is not None
    day = data.worked_on
    period = period_containing(day, plan.period)
    rows = session.execute(
        _post_lookup(), {"contract_id": contract.id, "day": day, "period_start": period.start}
    ).all()
    closed_periods = {period.start} if rows[0].closed else set()
    valid = [row[0] for row in rows if row[0] is not None]
    if not data.late and ensure_allotments(
        session, contract, plan, through=day, latest=rows[0].latest
    ):
        valid = list(valid_allotments(session, contract.id, day))
    return closed_periods, valid


@functools.cache
def _post_lookup() -> Any:  # a sqlmodel Select of (Allotment, latest, closed)
    """`_load_for_post`'s query, built once (building it, with its aliased subquery, cost more
    CPU than the database spends on it): binds `contract_id`, `day` (the work's date) and
    `period_start` (its period's)."""
    allotments = Allotment.__table__  # type: ignore[attr-defined]
    closed_periods = ClosedPeriod.__table__  # type: ignore[attr-defined]
    contract_id = sa.bindparam("contract_id", type_=allotments.c.contract_id.type)
    day = sa.bindparam("day", type_=allotments.c.valid_from.type)
    period_start = sa.bindparam("period_start", type_=closed_periods.c.period_start.type)
    granted = aliased(Allotment)
    latest = (
        select(func.max(granted.period_start))
        .where(granted.contract_id == contract_id)
        .scalar_subquery()
    )
    closed = sa.exists().where(
        col(ClosedPeriod.contract_id) == contract_id,
        col(ClosedPeriod.period_start) == period_start,
    )
    one = sa.select(sa.literal(1).label("one")).subquery()
    return (
        select(Allotment, latest.label("latest"), closed.label("closed"))
        .select_from(one)
        .outerjoin(
            Allotment,
            sa.and_(
                col(Allotment.contract_id) == contract_id,
                col(Allotment.valid_from) <= day,
                col(Allotment.valid_until) > day,
            ),
        )
        .order_by(col(Allotment.expires_at), col(Allotment.period_start), col(Allotment.id))
    )


def _prepare(
    session: Session,
    contract: Contract,
    plan: Plan,
    data: WorkEntryCreate,
    *,
    closed_periods: set[date] | None = None,
) -> WorkEntry:
    """Check a work entry against its contract and compute it; nothing is written.

    `closed_periods` is what a batch loaded once for the contract."""
    return WorkEntry(**_prepared_row(session, contract, plan, data, closed_periods=closed_periods))


def _prepared_row(
    session: Session,
    contract: Contract,
    plan: Plan,
    data: WorkEntryCreate,
    *,
    closed_periods: set[date] | None = None,
) -> dict[str, Any]:
    """`_prepare`'s checks and computation, the entry as its columns (all but the id)."""
    assert contract.id is not None
    _check_inside(contract, data.worked_on)
    _check_when(contract, data)
    period = period_containing(data.worked_on, plan.period)
    closed = (
        is_closed(session, contract.id, period.start)
        if closed_periods is None
        else period.start in closed_periods
    )
    if closed and not data.late:
        raise PeriodClosed(
            f"the period {period.label} of contract {contract.id} is already invoiced; "
            "post the work with late=true to bill it on the next invoice"
        )
    if data.late and not closed:
        raise InvalidInput(
            f"the period {period.label} is not invoiced yet: post the work without late",
            field="late",
        )
    multiplier = multiplier_for(
        plan=plan,
        level=data.level,
        started_at=data.started_at,
        timezone=contract.timezone,
        holiday_region=contract.holiday_region,
    )
    return {
        "contract_id": contract.id,
        "kind": "work",
        "worked_on": data.worked_on,
        "period_start": period.start,
        "started_at": data.started_at,
        "minutes": data.minutes,
        "level": data.level,
        "ticket_ref": data.ticket_ref,
        "description": data.description,
        "multiplier": multiplier,
        "billable_minutes": billable_minutes(
            data.minutes, multiplier=multiplier, increment=plan.billing_increment_minutes
        ),
        "late": data.late,
        "approved_overage": data.approved_overage,
        "reverses_id": None,
        "invoice_id": None,
        "created_at": utcnow(),
    }


def _book(
    session: Session,
    contract: Contract,
    plan: Plan,
    entry: WorkEntry,
    *,
    candidates: Sequence[Allotment] | None = None,
) -> None:
    """Book a stored work entry's minutes. `candidates`: the contract's allotments a batch
    loaded once, in consumption order."""
    assert contract.id is not None and entry.id is not None
    if entry.late:
        # The period's hours are gone: late work consumes nothing and is billed at the
        # overage rate on the next invoice.
        book.overage(
            session,
            contract_id=contract.id,
            period_start=entry.period_start,
            minutes=entry.billable_minutes,
            rate="late",
            work_entry_id=entry.id,
            reason="late",
        )
    else:
        valid = consume(session, contract=contract, plan=plan, entry=entry, candidates=candidates)
        alerts.check_thresholds(
            session, contract_id=contract.id, plan=plan, worked_on=entry.worked_on, candidates=valid
        )


def post_batch(session: Session, items: Sequence[tuple[int, WorkEntryCreate]]) -> list[WorkEntry]:
    """All or nothing: the caller's transaction rolls back every entry if one is refused."""
    return _post_batch(session, items)[0]


def post_batch_and_read(
    session: Session, items: Sequence[tuple[int, WorkEntryCreate]]
) -> list[WorkEntryRead]:
    """`post_batch`, and the entries as `to_reads` would read them back, from what was written."""
    entries, written = _post_batch(session, items)
    return reads_of_posted(entries, written)


def _post_batch(
    session: Session, items: Sequence[tuple[int, WorkEntryCreate]]
) -> tuple[list[WorkEntry], book.Deferred]:
    """Contracts are locked in id order, in one query, so two batches can never deadlock each
    other. The entries are checked and computed first and stored in one multi-row INSERT; then
    their minutes are booked in order with the ledger rows collected and written at once
    (`book.deferred`). The first refusal in item order is the one reported, as if the entries
    were posted one by one: nothing an entry's checks read is changed by booking the entries
    before it."""
    contracts = lock_contracts_and_plans(session, (cid for cid, _ in items))

    def refused(index: int, exc: DomainError) -> DomainError:
        field = f"entries.{index}.{exc.field}" if exc.field else f"entries.{index}"
        return type(exc)(f"entry {index}: {exc.detail}", field=field)

    with session.no_autoflush:  # every write below flushes itself; queries need no autoflush
        closed, candidates = _load_for_batch(session, contracts, items)
        rows: list[dict[str, Any]] = []
        invalid: tuple[int, DomainError] | None = None
        for index, (contract_id, data) in enumerate(items):
            contract, plan = contracts[contract_id]
            try:
                rows.append(
                    _prepared_row(session, contract, plan, data, closed_periods=closed[contract_id])
                )
            except DomainError as exc:
                invalid = (index, exc)
                break
        # Plain rows, not ORM objects: one executemany (`ledger.bulk.insert_rows_ids`); the
        # entries handed on are built from the stored columns without validation (they were
        # computed above).
        table = WorkEntry.__table__  # type: ignore[attr-defined]
        ids = insert_rows_ids(session, table, rows)
        prepared = [
            WorkEntry.model_construct(id=new_id, **row)
            for row, new_id in zip(rows, ids, strict=True)
        ]
        with (
            book.deferred(session, many=True) as written,
            alerts.known_alerts(session, contracts),
        ):
            written.load_overages(session, {(e.contract_id, e.period_start) for e in prepared})
            for index, entry in enumerate(prepared):
                contract, plan = contracts[entry.contract_id]
                try:
                    _book(session, contract, plan, entry, candidates=candidates[entry.contract_id])
                except DomainError as exc:
                    raise refused(index, exc) from exc
            if invalid is not None:
                raise refused(*invalid) from invalid[1]
    return prepared, written


def _load_for_batch(
    session: Session,
    contracts: dict[int, tuple[Contract, Plan]],
    items: Sequence[tuple[int, WorkEntryCreate]],
) -> tuple[dict[int, set[date]], dict[int, list[Allotment]]]:
    """In a few set queries instead of several per entry: each contract's latest grant (to
    grant what is missing), its closed periods, and its allotments (granted first through the
    batch's latest date for it), in consumption order. The contracts are locked, so nothing
    else changes them until commit."""
    latest: dict[int, date] = {}
    for contract_id, data in items:
        latest[contract_id] = max(latest.get(contract_id, data.worked_on), data.worked_on)
    ids = list(contracts)
    granted = latest_granted(session, ids)
    for contract_id, (contract, plan) in contracts.items():
        ensure_allotments(
            session, contract, plan, through=latest[contract_id], latest=granted.get(contract_id)
        )
    closed: dict[int, set[date]] = {cid: set() for cid in ids}
    for contract_id, period_start in session.execute(
        select(col(ClosedPeriod.contract_id), col(ClosedPeriod.period_start)).where(
            col(ClosedPeriod.contract_id).in_(ids)
        )
    ):
        closed[contract_id].add(period_start)
    candidates: dict[int, list[Allotment]] = {cid: [] for cid in ids}
    for allotment in session.scalars(
        select(Allotment)
        .where(col(Allotment.contract_id).in_(ids))
        .order_by(col(Allotment.expires_at), col(Allotment.period_start), col(Allotment.id))
    ):
        candidates[allotment.contract_id].append(allotment)
    return closed, candidates


def reverse_work(session: Session, work_entry_id: int) -> WorkEntry:
    """Append a reversal: overage of the work's period goes first, then the minutes go back to
    the allotments they came from (recorded as expired at once where those were closed)."""
    original = session.get(WorkEntry, work_entry_id)
    if original is None:
        raise NotFound(f"no work entry {work_entry_id}")
    contract = lock_contract(session, original.contract_id)
    session.refresh(original)
    assert contract.id is not None and original.id is not None
    if original.kind != "work":
        raise InvalidInput("a reversal cannot itself be reversed", field="id")
    if reversal_of(session, original.id) is not None:
        raise AlreadyReversed(f"work entry {original.id} is already reversed")
    if original.late:
        if original.invoice_id is not None:
            raise PeriodClosed(
                f"late work entry {original.id} is already invoiced; correct it with a credit note"
            )
    elif is_closed(session, contract.id, original.period_start):
        raise PeriodClosed(
            f"work entry {original.id} belongs to an invoiced period; correct it with a credit note"
        )
    reversal = WorkEntry(
        contract_id=contract.id,
        kind="reversal",
        worked_on=original.worked_on,
        period_start=original.period_start,
        started_at=original.started_at,
        minutes=-original.minutes,
        level=original.level,
        ticket_ref=original.ticket_ref,
        description=f"reversal of work entry {original.id}",
        multiplier=original.multiplier,
        billable_minutes=-original.billable_minutes,
        late=original.late,
        reverses_id=original.id,
    )
    session.add(reversal)
    session.flush()
    left = original.billable_minutes
    if original.late:
        book.overage(
            session,
            contract_id=contract.id,
            period_start=original.period_start,
            minutes=-left,
            rate="late",
            work_entry_id=reversal.id,
            reason="reversal",
        )
        return reversal
    totals = book.period_overage(session, contract.id, original.period_start)
    for rate in ("on_demand", "overage"):
        take = min(left, getattr(totals, f"{rate}_minutes"))
        book.overage(
            session,
            contract_id=contract.id,
            period_start=original.period_start,
            minutes=-take,
            rate=rate,
            work_entry_id=reversal.id,
            reason="reversal",
        )
        left -= take
    if left:
        _return_to_allotments(session, original, reversal, left)
    return reversal


def _return_to_allotments(
    session: Session, original: WorkEntry, reversal: WorkEntry, minutes: int
) -> None:
    used_by_original = dict(
        session.execute(
            select(col(LedgerEntry.allotment_id), func.sum(LedgerEntry.minutes))
            .where(
                col(LedgerEntry.work_entry_id) == original.id,
                col(LedgerEntry.kind) == "use",
            )
            .group_by(col(LedgerEntry.allotment_id))
        ).all()
    )
    candidates = session.scalars(
        select(Allotment)
        .where(
            col(Allotment.contract_id) == original.contract_id,
            col(Allotment.valid_from) <= original.worked_on,
            col(Allotment.valid_until) > original.worked_on,
            col(Allotment.used_minutes) > 0,
        )
        .order_by(col(Allotment.expires_at), col(Allotment.id))
    ).all()
    left = minutes

    def give_back(allotment: Allotment, limit: int) -> None:
        nonlocal left
        back = min(left, limit)
        if back <= 0:
            return
        book.use(session, allotment, -back, work_entry_id=reversal.id, reason="reversal")
        if allotment.closed:  # its period was invoiced: these hours are gone
            book.expire(
                session, allotment, back, work_entry_id=reversal.id, reason="returned_expired"
            )
        left -= back

    # Each allotment that paid for the original gets back at most what it gave; what is left
    # (when another reversal already took overage that was this work's) goes back to whatever
    # the same work date drew on.
    for allotment in candidates:
        give_back(allotment, min(used_by_original.get(allotment.id, 0), allotment.used_minutes))
    for allotment in candidates:
        give_back(allotment, allotment.used_minutes)
    if left:
        raise AssertionError("reversal could not place all its minutes")  # pragma: no cover


def reversal_of(session: Session, work_entry_id: int) -> WorkEntry | None:
    return session.scalar(select(WorkEntry).where(col(WorkEntry.reverses_id) == work_entry_id))


def get_work_entry(
    session: Session, work_entry_id: int, *, visible_to: int | None = None
) -> WorkEntry:
    entry = session.get(WorkEntry, work_entry_id)
    if entry is None:
        raise NotFound(f"no work entry {work_entry_id}")
    get_contract(session, entry.contract_id, visible_to=visible_to)
    return entry


def list_work_entries(
    session: Session,
    contract_id: int,
    *,
    month_start: date | None,
    month_end: date | None,
    after_id: int | None,
    limit: int,
) -> Sequence[WorkEntry]:
    query = select(WorkEntry).where(col(WorkEntry.contract_id) == contract_id)
    if month_start is not None and month_end is not None:
        query = query.where(
            col(WorkEntry.worked_on) >= month_start, col(WorkEntry.worked_on) < month_end
        )
    if after_id is not None:
        query = query.where(col(WorkEntry.id) > after_id)
    return session.scalars(query.order_by(col(WorkEntry.id)).limit(limit)).all()


def to_reads(session: Session, entries: Sequence[WorkEntry]) -> list[WorkEntryRead]:
    """Entries with their coverage, in two queries whatever the number of entries."""
    ids = [e.id for e in entries if e.id is not None]
    if not ids:
        return []
    rows = session.execute(
        sa.select(
            col(LedgerEntry.work_entry_id),
            col(LedgerEntry.kind),
            col(LedgerEntry.rate),
            col(LedgerEntry.allotment_id),
            func.sum(LedgerEntry.minutes),
        )
        .where(
            col(LedgerEntry.work_entry_id).in_(ids), col(LedgerEntry.kind).in_(["use", "overage"])
        )
        .group_by(
            col(LedgerEntry.work_entry_id),
            col(LedgerEntry.kind),
            col(LedgerEntry.rate),
            col(LedgerEntry.allotment_id),
        )
    ).all()
    allotment_ids = {row[3] for row in rows if row[3] is not None}
    months = _allotment_months(session, allotment_ids)
    coverage: dict[int | None, list[Coverage]] = defaultdict(list)
    for work_entry_id, kind, rate, allotment_id, minutes in rows:
        if not minutes:
            continue
        if kind == "use":
            coverage[work_entry_id].append(
                Coverage(
                    source="allotment",
                    minutes=int(minutes),
                    allotment_id=allotment_id,
                    months=months.get(allotment_id) if allotment_id is not None else None,
                )
            )
        else:
            coverage[work_entry_id].append(Coverage(source=str(rate), minutes=int(minutes)))
    reversed_by = dict(
        session.execute(
            select(col(WorkEntry.reverses_id), col(WorkEntry.id)).where(
                col(WorkEntry.reverses_id).in_(ids)
            )
        ).all()
    )
    return [
        _read(
            e,
            sorted(coverage[e.id or 0], key=lambda c: (c.source, c.allotment_id or 0)),
            reversed_by.get(e.id),
        )
        for e in entries
    ]


def _read(entry: WorkEntry, coverage: list[Coverage], reversed_by_id: int | None) -> WorkEntryRead:
    return WorkEntryRead(
        id=entry.id or 0,
        contract_id=entry.contract_id,
        kind=entry.kind,
        worked_on=entry.worked_on,
        started_at=entry.started_at,
        minutes=entry.minutes,
        level=entry.level,
        ticket_ref=entry.ticket_ref,
        description=entry.description,
        multiplier=str(entry.multiplier),
        billable_minutes=entry.billable_minutes,
        late=entry.late,
        approved_overage=entry.approved_overage,
        reverses_id=entry.reverses_id,
        reversed_by_id=reversed_by_id,
        coverage=coverage,
        created_at=entry.created_at,
    )


def reads_of_posted(entries: Sequence[WorkEntry], written: book.Deferred) -> list[WorkEntryRead]:
    """What `to_reads` reads back for entries posted in this transaction, from the ledger rows
    their posting collected (`book.deferred`): every `use`/`overage` row of a new entry is one
    of those, summed per allotment or rate the same way; nothing reverses a new entry yet."""
    sums: dict[int, dict[tuple[str, str | None, int | None], int]] = defaultdict(dict)
    allotments: dict[int, Allotment] = {}
    for row, allotment in written.rows:
        work_entry_id = row["work_entry_id"]
        if work_entry_id is None or row["kind"] not in ("use", "overage"):
            continue
        key = (row["kind"], row["rate"], row["allotment_id"])
        per_entry = sums[work_entry_id]
        per_entry[key] = per_entry.get(key, 0) + row["minutes"]
        if allotment is not None and allotment.id is not None:
            allotments[allotment.id] = allotment
    reads = []
    for entry in entries:
        assert entry.id is not None
        coverage = []
        for (kind, rate, allotment_id), minutes in sums.get(entry.id, {}).items():
            if not minutes:
                continue
            if kind == "use":
                coverage.append(
                    Coverage(
                        source="allotment",
                        minutes=int(minutes),
                        allotment_id=allotment_id,
                        months=(
                            allotment_months(allotments[allotment_id])
                            if allotment_id is not None
                            else None
                        ),
                    )
                )
            else:
                coverage.append(Coverage(source=str(rate), minutes=int(minutes)))
        coverage.sort(key=lambda c: (c.source, c.allotment_id or 0))
        reads.append(_read(entry, coverage, None))
    return reads


def _allotment_months(session: Session, allotment_ids: set[int]) -> dict[int, list[str]]:
    if not allotment_ids:
        return {}
    result = {}
    for allotment in session.scalars(select(Allotment).where(col(Allotment.id).in_(allotment_ids))):
        assert allotment.id is not None
        result[allotment.id] = allotment_months(allotment)
    return result


class _Spans(Protocol):
    """What `allotment_months` reads: a stored allotment, or a balance's figures of one."""

    @property
    def period_start(self) -> date: ...

    @property
    def period_end(self) -> date: ...


def allotment_months(allotment: _Spans) -> list[str]:
    """The months an allotment covers: one, three for a quarter; its own period, not its pool."""
    labels = []
    day = allotment.period_start
    while day < allotment.period_end:
        labels.append(month_label(day))
        day = date(day.year + (day.month // 12), day.month % 12 + 1, 1)
    return labels
