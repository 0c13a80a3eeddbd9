"""Drawing a work entry's billable minutes from allotments, and the overage beyond them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.hours import book
from ledger.hours.allotments import ensure_allotments, valid_allotments
from ledger.hours.errors import OverageCapExceeded
from ledger.hours.models import Allotment, WorkEntry
from ledger.units import minutes_to_hours


def consume(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    entry: WorkEntry,
    enforce_cap: bool = True,
    reason: str = "work",
    candidates: Sequence[Allotment] | None = None,
) -> Sequence[Allotment]:
    """Earliest expiry first (oldest grant on a tie); what no allotment covers is overage of
    the period of the work's date. One ledger row per allotment touched.

    `candidates`: the contract's allotments, already granted through the work's date and in
    consumption order (a batch loads them once per contract); they are filtered by date here.
    Returns the allotments usable on the work's date, in that order (the alert check reads
    them next)."""
    assert entry.id is not None and contract.id is not None
    if candidates is None:
        ensure_allotments(session, contract, plan, through=entry.worked_on)
        valid = valid_allotments(session, contract.id, entry.worked_on)
    else:
        day = entry.worked_on
        valid = [a for a in candidates if a.valid_from <= day < a.valid_until]
    left = entry.billable_minutes
    for allotment in valid:
        if left == 0:
            break
        if allotment.closed or allotment.remaining_minutes == 0:
            continue
        take = min(left, allotment.remaining_minutes)
        book.use(session, allotment, take, work_entry_id=entry.id, reason=reason)
        left -= take
    if left:
        _book_uncovered(
            session,
            contract=contract,
            plan=plan,
            entry=entry,
            minutes=left,
            enforce_cap=enforce_cap,
            reason=reason,
        )
    return valid


def _book_uncovered(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    entry: WorkEntry,
    minutes: int,
    enforce_cap: bool,
    reason: str,
) -> None:
    assert contract.id is not None
    if plan.included_minutes == 0:
        # No package: every minute is on-demand work.
        book.overage(
            session,
            contract_id=contract.id,
            period_start=entry.period_start,
            minutes=minutes,
            rate="on_demand",
            work_entry_id=entry.id,
            reason=reason,
        )
        return
    cap = contract.overage_cap_minutes
    within = minutes
    if cap is not None:
        totals = book.period_overage(session, contract.id, entry.period_start)
        room = max(0, cap - totals.overage_minutes)
        beyond = max(0, minutes - room)
        if entry.approved_overage:
            within = minutes - beyond
        if beyond and enforce_cap and not entry.approved_overage:
            raise OverageCapExceeded(
                f"this work would bring the overage of the period starting "
                f"{entry.period_start.isoformat()} to "
                f"{minutes_to_hours(totals.overage_minutes + minutes)} h, above the agreed cap "
                f"of {minutes_to_hours(cap)} h; finance can post it with approved_overage=true",
                field="minutes",
            )
    book.overage(
        session,
        contract_id=contract.id,
        period_start=entry.period_start,
        minutes=within,
        rate="overage",
        work_entry_id=entry.id,
        reason=reason,
    )
    # Beyond an approved cap, work is billed at the on-demand rate (SPEC glossary); work that
    # only went past the cap through a re-consumption nobody approved stays plain overage.
    book.overage(
        session,
        contract_id=contract.id,
        period_start=entry.period_start,
        minutes=minutes - within,
        rate="on_demand",
        work_entry_id=entry.id,
        reason=reason,
    )
