"""Hours figures of a period for the invoice: what the PDF's summary and statement show.

Read in a fixed number of queries per period, whatever the number of work entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.pdf import HoursSummary, StatementEntry
from ledger.contracts.models import Contract
from ledger.hours.models import Allotment, WorkEntry
from ledger.hours.reports import period_allotments, summarise
from ledger.hours.work import to_reads
from ledger.periods import Period, month_label


def hours_summary(
    session: Session, contract_id: int, period: Period, *, overage_minutes: int, now: datetime
) -> HoursSummary:
    """The period's hours as the statement endpoint shows them (a pool's on both months)."""
    shown = list(period_allotments(session, contract_id, period.start))
    summary = summarise(shown, now=now) if shown else None
    return HoursSummary(
        granted_minutes=summary.granted_minutes if summary else 0,
        used_minutes=summary.used_minutes if summary else 0,
        expired_minutes=summary.expired_minutes if summary else 0,
        overage_minutes=overage_minutes,
        remaining_minutes=summary.remaining_minutes if summary else 0,
        pool=_pool_text(session, contract_id, shown) if summary and summary.pooled else None,
    )


def _pool_text(session: Session, contract_id: int, pooled: list[Allotment]) -> str:
    """ "2026-02 + 2026-03, expires 2026-03-31 24:00 Europe/Berlin", on the contract's clock."""
    timezone = session.scalar(select(Contract.timezone).where(col(Contract.id) == contract_id))
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


def statement_entries(session: Session, contract_id: int, period: Period) -> list[StatementEntry]:
    """The work of the period, and the late work of earlier periods billed on its invoice.

    Late work is billed on the next invoice after its own period's (SPEC "Hours" 7), so it is
    listed there: otherwise its invoice line could not be traced back to a ticket.
    """
    in_period = and_(
        col(WorkEntry.worked_on) >= period.start, col(WorkEntry.worked_on) < period.end
    )
    invoice_id = session.scalar(
        select(Invoice.id).where(
            col(Invoice.contract_id) == contract_id, col(Invoice.period_start) == period.start
        )
    )
    shown = in_period
    if invoice_id is not None:
        billed_late = and_(col(WorkEntry.late).is_(True), col(WorkEntry.invoice_id) == invoice_id)
        shown = or_(in_period, billed_late)
    entries = session.scalars(
        select(WorkEntry)
        .where(col(WorkEntry.contract_id) == contract_id, shown)
        .order_by(col(WorkEntry.worked_on), col(WorkEntry.id))
    ).all()
    result = []
    for read in to_reads(session, entries):
        parts = []
        for cover in read.coverage:
            if cover.source == "allotment":
                parts.append(f"allotment {'/'.join(cover.months or [])} {cover.minutes} min")
            else:
                label = _COVER_LABELS.get(cover.source, cover.source.replace("_", "-"))
                parts.append(f"{label} {cover.minutes} min")
        result.append(
            StatementEntry(
                worked_on=read.worked_on,
                ticket_ref=read.ticket_ref,
                level=read.level,
                minutes=read.billable_minutes,
                description=read.description or ("reversal" if read.kind == "reversal" else ""),
                covered_by=", ".join(parts) or "-",
                multiplier=None if read.multiplier in ("1", "1.0") else f"×{read.multiplier}",
            )
        )
    return result
