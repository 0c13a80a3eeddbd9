"""The hours ledger's invariant, checked from SQL sums of the rows against the running totals.

SPEC: at every instant, for every contract, granted = used + expired + remaining and
billable = used + overage, where every term is a sum of ledger minutes. The running totals on
`allotments` and `period_overages` are a cache of those sums (balance reads nothing else), so
each one is recomputed from `ledger_entries` here and must agree to the minute.

Usable from any test, and from the benchmarks on a filled database.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage, WorkEntry

RATES = ("overage", "on_demand", "late")

_allotments = Allotment.__table__  # type: ignore[attr-defined]
_entries = LedgerEntry.__table__  # type: ignore[attr-defined]
_overages = PeriodOverage.__table__  # type: ignore[attr-defined]
_work = WorkEntry.__table__  # type: ignore[attr-defined]


class LedgerInconsistent(AssertionError):
    """Raised with every broken rule of one contract, not only the first."""


def _sum_of(kind: str) -> Any:
    return sa.func.coalesce(
        sa.func.sum(sa.case((_entries.c.kind == kind, _entries.c.minutes), else_=0)), 0
    )


def ledger_problems(session: Session, contract_id: int) -> list[str]:
    """Every way the contract's ledger disagrees with itself; empty when consistent."""
    session.flush()
    problems: list[str] = []

    # Per allotment: its totals are the sums of its own rows.
    rows = session.execute(
        sa.select(
            _allotments.c.id,
            _allotments.c.period_start,
            _allotments.c.granted_minutes,
            _allotments.c.used_minutes,
            _allotments.c.expired_minutes,
            _allotments.c.remaining_minutes,
            _allotments.c.closed,
            _sum_of("grant"),
            _sum_of("use"),
            _sum_of("expire"),
        )
        .select_from(_allotments.outerjoin(_entries, _entries.c.allotment_id == _allotments.c.id))
        .where(_allotments.c.contract_id == contract_id)
        .group_by(_allotments.c.id)
        .order_by(_allotments.c.id)
    ).all()
    total_remaining = 0
    for (
        allotment_id,
        period_start,
        granted,
        used,
        expired,
        remaining,
        closed,
        grant_rows,
        use_rows,
        expire_rows,
    ) in rows:
        where = f"allotment {allotment_id} ({period_start})"
        total_remaining += remaining
        for name, total, summed in (
            ("granted", granted, grant_rows),
            ("used", used, use_rows),
            ("expired", expired, expire_rows),
        ):
            if total != summed:
                problems.append(f"{where}: {name}_minutes {total} but its rows sum to {summed}")
        if remaining != granted - used - expired:
            problems.append(
                f"{where}: remaining {remaining} != granted {granted} - used {used}"
                f" - expired {expired}"
            )
        if min(granted, used, expired, remaining) < 0:
            problems.append(
                f"{where}: a negative total (granted {granted}, used {used},"
                f" expired {expired}, remaining {remaining})"
            )
        if used > granted:
            problems.append(f"{where}: used {used} more than granted {granted}")
        if closed and remaining != 0:
            problems.append(f"{where}: closed with {remaining} minutes still remaining")

    # Rows that name an allotment belong to that allotment's contract and period.
    strays = session.execute(
        sa.select(_entries.c.id, _entries.c.kind, _entries.c.allotment_id)
        .select_from(_entries.join(_allotments, _entries.c.allotment_id == _allotments.c.id))
        .where(
            sa.or_(_entries.c.contract_id == contract_id, _allotments.c.contract_id == contract_id),
            sa.or_(
                _entries.c.contract_id != _allotments.c.contract_id,
                _entries.c.period_start != _allotments.c.period_start,
            ),
        )
        .limit(10)
    ).all()
    for entry_id, kind, allotment_id in strays:
        problems.append(
            f"ledger entry {entry_id} ({kind}) names allotment {allotment_id} of another"
            " contract or period"
        )

    # Per period: the overage totals are the sums of the overage rows, by rate.
    summed_overage: dict[tuple[date, str], int] = defaultdict(int)
    for period_start, rate, minutes in session.execute(
        sa.select(_entries.c.period_start, _entries.c.rate, sa.func.sum(_entries.c.minutes))
        .where(_entries.c.contract_id == contract_id, _entries.c.kind == "overage")
        .group_by(_entries.c.period_start, _entries.c.rate)
    ).all():
        summed_overage[(period_start, rate)] = int(minutes)
    cached_overage: dict[tuple[date, str], int] = {}
    for period_start, overage, on_demand, late in session.execute(
        sa.select(
            _overages.c.period_start,
            _overages.c.overage_minutes,
            _overages.c.on_demand_minutes,
            _overages.c.late_minutes,
        ).where(_overages.c.contract_id == contract_id)
    ).all():
        for rate, total in zip(RATES, (overage, on_demand, late), strict=True):
            cached_overage[(period_start, rate)] = total
            if total < 0:
                problems.append(f"period {period_start}: {rate}_minutes is negative ({total})")
    for key in sorted(set(summed_overage) | set(cached_overage)):
        cached, summed = cached_overage.get(key, 0), summed_overage.get(key, 0)
        if cached != summed:
            problems.append(
                f"period {key[0]}: {key[1]}_minutes {cached} but its overage rows sum to {summed}"
            )
        if summed < 0:
            problems.append(f"period {key[0]}: {key[1]} rows sum to a negative {summed}")

    # Per contract: granted = used + expired + remaining; billable = used + overage.
    sums = session.execute(
        sa.select(_sum_of("grant"), _sum_of("use"), _sum_of("expire"), _sum_of("overage")).where(
            _entries.c.contract_id == contract_id
        )
    ).one()
    granted, used, expired, overage = (int(value) for value in sums)
    if granted != used + expired + total_remaining:
        problems.append(
            f"contract {contract_id}: granted {granted} != used {used} + expired {expired}"
            f" + remaining {total_remaining}"
        )
    billable = int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(_work.c.billable_minutes), 0)).where(
                _work.c.contract_id == contract_id
            )
        )
        or 0
    )
    if billable != used + overage:
        problems.append(
            f"contract {contract_id}: billable {billable} != used {used} + overage {overage}"
            " (all rates)"
        )

    # A reversal undoes exactly one work entry of the same contract, to the minute.
    original = _work.alias("original")
    for (
        reversal_id,
        billable_minutes,
        original_billable,
        original_kind,
        original_contract,
    ) in session.execute(
        sa.select(
            _work.c.id,
            _work.c.billable_minutes,
            original.c.billable_minutes,
            original.c.kind,
            original.c.contract_id,
        )
        .select_from(_work.join(original, _work.c.reverses_id == original.c.id))
        .where(_work.c.contract_id == contract_id, _work.c.kind == "reversal")
    ).all():
        if (
            billable_minutes != -original_billable
            or original_kind != "work"
            or original_contract != contract_id
        ):
            problems.append(
                f"reversal {reversal_id} ({billable_minutes}) does not mirror its work entry"
                f" ({original_kind}, {original_billable}, contract {original_contract})"
            )
    return problems


def assert_ledger_consistent(session: Session, contract_id: int) -> None:
    """Raise `LedgerInconsistent` listing every broken rule of the contract's hours ledger."""
    problems = ledger_problems(session, contract_id)
    if problems:
        raise LedgerInconsistent(
            f"hours ledger of contract {contract_id} is inconsistent:\n  " + "\n  ".join(problems)
        )
