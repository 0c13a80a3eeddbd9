"""Hours figures of invoiced periods: what the PDF's summary and statement show.

Read for many periods at once in a fixed number of queries, whatever the number of periods and
work entries; one period is the same call with a list of one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.pdf import HoursSummary, StatementEntry
from ledger.hours.models import Allotment, WorkEntry
from ledger.hours.reports import summarise
from ledger.hours.schemas import WorkEntryRead
from ledger.hours.work import to_reads
from ledger.periods import Period, month_label

PeriodKey = tuple[int, date]  # (contract id, period start)


@dataclass(frozen=True)
class StatementPeriod:
    """A contract's invoiced period; `invoice_id` is its invoice, which bills late work of
    earlier periods (None: no invoice, only the period's own work is listed)."""

    contract_id: int
    period: Period
    invoice_id: int | None

    @property
    def key(self) -> PeriodKey:
        return self.contract_id, self.period.start


def period_allotments_many(
    session: Session, keys: Sequence[PeriodKey]
) -> dict[PeriodKey, list[Allotment]]:
    """Each period's allotment, or both allotments of its pool (`period_allotments` for many
    periods, in two queries); a period without an allotment has none."""
    wanted = set(keys)
    if not wanted:
        return {}
    contract_ids = sorted({contract_id for contract_id, _ in wanted})
    starts = sorted({start for _, start in wanted})
    own = [
        allotment
        for allotment in session.scalars(
            select(Allotment).where(
                col(Allotment.contract_id).in_(contract_ids),
                col(Allotment.period_start).in_(starts),
            )
        )
        if (allotment.contract_id, allotment.period_start) in wanted
    ]
    pools = {(a.contract_id, a.pool_first_month) for a in own if a.pool_first_month is not None}
    pooled: dict[tuple[int, date], list[Allotment]] = defaultdict(list)
    if pools:
        for allotment in session.scalars(
            select(Allotment).where(
                col(Allotment.contract_id).in_(sorted({c for c, _ in pools})),
                col(Allotment.pool_first_month).in_(sorted({m for _, m in pools if m})),
            )
        ):
            assert allotment.pool_first_month is not None
            pooled[(allotment.contract_id, allotment.pool_first_month)].append(allotment)
    result: dict[PeriodKey, list[Allotment]] = {}
    for allotment in own:
        key = (allotment.contract_id, allotment.period_start)
        if allotment.pool_first_month is None:
            result[key] = [allotment]
        else:
            result[key] = list(pooled[(allotment.contract_id, allotment.pool_first_month)])
    return result


def hours_summary(
    shown: Sequence[Allotment], *, timezone: str | None, overage_minutes: int, now: datetime
) -> HoursSummary:
    """The period's hours as the statement endpoint shows them (a pool's on both months), from
    its allotments (`period_allotments_many`) and the contract's time zone."""
    summary = summarise(shown, now=now) if shown else None
    return HoursSummary(
        granted_minutes=summary.granted_minutes if summary else 0,
        used_minutes=summary.used_minutes if summary else 0,
        expired_minutes=summary.expired_minutes if summary else 0,
        overage_minutes=overage_minutes,
        remaining_minutes=summary.remaining_minutes if summary else 0,
        pool=_pool_text(timezone, shown) if summary and summary.pooled else None,
    )


def _pool_text(timezone: str | None, pooled: Sequence[Allotment]) -> str:
    """ "2026-02 + 2026-03, expires 2026-03-31 24:00 Europe/Berlin", on the contract's clock."""
    months = " + ".join(sorted(month_label(a.period_start) for a in pooled))
    expires_at = max(a.expires_at for a in pooled)
    if timezone is None:
        return months
    local = expires_at.astimezone(ZoneInfo(timezone))
    # Expiry is local midnight; print it as the end of the pool's last day, like SPEC does.
    last_day = (local - timedelta(days=1)).date() if local.hour == local.minute == 0 else None
    when = f"{last_day.isoformat()} 24:00" if last_day else local.strftime("%Y-%m-%d %H:%M")
    return f"{months}, expires {when} {timezone}"


_COVER_LABELS = {"overage": "overage", "on_demand": "on-demand", "late": "late work"}


def _shown_on(entry: WorkEntry, item: StatementPeriod) -> bool:
    if entry.contract_id != item.contract_id:
        return False
    if item.period.start <= entry.worked_on < item.period.end:
        return True
    return bool(entry.late) and item.invoice_id is not None and entry.invoice_id == item.invoice_id


def statement_entries_many(
    session: Session, items: Sequence[StatementPeriod]
) -> dict[PeriodKey, list[StatementEntry]]:
    """Each period's work, and the late work of earlier periods billed on its invoice, in four
    queries for all the periods.

    Late work is billed on the next invoice after its own period's (SPEC "Hours" 7), so it is
    listed there: otherwise its invoice line could not be traced back to a ticket.
    """
    if not items:
        return {}
    contract_ids = sorted({item.contract_id for item in items})
    # One range over all the periods (a superset when they differ), each period's own picked
    # below: the statement stays the same whatever the batch.
    in_periods = and_(
        col(WorkEntry.worked_on) >= min(item.period.start for item in items),
        col(WorkEntry.worked_on) < max(item.period.end for item in items),
    )
    invoice_ids = sorted({item.invoice_id for item in items if item.invoice_id is not None})
    shown = in_periods
    if invoice_ids:
        billed_late = and_(
            col(WorkEntry.late).is_(True), col(WorkEntry.invoice_id).in_(invoice_ids)
        )
        shown = or_(in_periods, billed_late)
    entries = session.scalars(
        select(WorkEntry)
        .where(col(WorkEntry.contract_id).in_(contract_ids), shown)
        .order_by(col(WorkEntry.worked_on), col(WorkEntry.id))
    ).all()
    reads = dict(zip((e.id for e in entries), to_reads(session, entries), strict=True))
    result: dict[PeriodKey, list[StatementEntry]] = {}
    for item in items:
        result[item.key] = [
            _statement_entry(reads[entry.id]) for entry in entries if _shown_on(entry, item)
        ]
    return result


def _statement_entry(read: WorkEntryRead) -> StatementEntry:
    parts = []
    for cover in read.coverage:
        if cover.source == "allotment":
            parts.append(f"allotment {'/'.join(cover.months or [])} {cover.minutes} min")
        else:
            label = _COVER_LABELS.get(cover.source, cover.source.replace("_", "-"))
            parts.append(f"{label} {cover.minutes} min")
    return StatementEntry(
        worked_on=read.worked_on,
        ticket_ref=read.ticket_ref,
        level=read.level,
        minutes=read.billable_minutes,
        description=read.description or ("reversal" if read.kind == "reversal" else ""),
        covered_by=", ".join(parts) or "-",
        multiplier=None if read.multiplier in ("1", "1.0") else f"×{read.multiplier}",
    )
