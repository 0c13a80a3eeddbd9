"""Which contracts a run bills, and which of their periods are still due."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Adjustment, Invoice
from ledger.bulk import one_of
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.errors import Conflict
from ledger.hours.allotments import contract_periods
from ledger.hours.models import WorkEntry
from ledger.periods import Period, local_midnight

EARLIEST_ZONE = "Etc/GMT-14"  # the first place on earth where a month ends


def check_period_billable(period: Period, now: datetime) -> None:
    if now < local_midnight(period.end, EARLIEST_ZONE):
        raise Conflict(
            f"period {period.label} has not ended yet: it can only be previewed (dry run)",
            field="period",
        )


def has_pending_charges(contract_id: Any) -> sa.ColumnElement[bool]:
    """Late work or a manual adjustment still waiting for an invoice."""
    return sa.or_(
        sa.exists().where(
            col(WorkEntry.contract_id) == contract_id,
            col(WorkEntry.late).is_(True),
            col(WorkEntry.invoice_id).is_(None),
        ),
        sa.exists().where(
            col(Adjustment.contract_id) == contract_id, col(Adjustment.invoice_id).is_(None)
        ),
    )


def eligible_contracts(period: Period) -> sa.Select[Any]:
    """Contracts that had started by the end of the period and still have something to bill:
    still running in it, or ended earlier without an invoice for their last period."""
    last_invoiced = (
        select(sa.func.max(Invoice.period_end))
        .where(col(Invoice.contract_id) == col(Contract.id))
        .scalar_subquery()
    )
    return select(col(Contract.id)).where(
        col(Contract.start_date) < period.end,
        sa.or_(
            col(Contract.end_date).is_(None),
            col(Contract.end_date) >= period.start,
            last_invoiced.is_(None),
            last_invoiced <= col(Contract.end_date),
            has_pending_charges(col(Contract.id)),
        ),
    )


def next_unbilled_period(
    session: Session, contract: Contract, plan: Plan, run_period: Period
) -> Period | None:
    """The earliest period of the contract that has ended by the run's period and has no
    invoice: catch-up of never-billed periods comes first, in order. A contract that ended
    before the run's period but still has late work or adjustments waiting gets one more
    invoice, for the run's period, carrying just those."""
    assert contract.id is not None
    return next_unbilled_periods(session, [(contract, plan, run_period)])[contract.id]


def first_uninvoiced(
    contract: Contract, plan: Plan, run_period: Period, invoiced: set[date]
) -> tuple[Period | None, bool]:
    """`next_unbilled_period` from the invoiced period starts: the period, or None and
    whether pending charges decide (then the run's period is due if there are any)."""
    for period in contract_periods(contract, plan, through=run_period.end - timedelta(days=1)):
        if period.end > run_period.end:
            return None, False
        if period.start not in invoiced:
            return period, False
    pending_decides = (
        contract.end_date is not None
        and contract.end_date < run_period.start
        and run_period.start not in invoiced
    )
    return None, pending_decides


def invoiced_starts(session: Session, contract_ids: Sequence[int]) -> dict[int, set[date]]:
    """The period starts of the contracts' invoices, in one query."""
    invoiced: dict[int, set[date]] = defaultdict(set)
    for contract_id, period_start in session.execute(
        select(col(Invoice.contract_id), col(Invoice.period_start)).where(
            one_of(session, col(Invoice.contract_id), contract_ids)
        )
    ):
        invoiced[contract_id].add(period_start)
    return invoiced


def next_unbilled_periods(
    session: Session,
    items: Sequence[tuple[Contract, Plan, Period]],
    *,
    invoiced: dict[int, set[date]] | None = None,
) -> dict[int, Period | None]:
    """`next_unbilled_period` of many contracts (each once) in two queries: the invoiced
    period starts of all of them (unless given, `invoiced_starts`), then the pending charges
    of those that need the answer."""
    contract_ids = [contract.id for contract, _, _ in items if contract.id is not None]
    if not contract_ids:
        return {}
    if invoiced is None:
        invoiced = invoiced_starts(session, contract_ids)
    due: dict[int, Period | None] = {}
    ask_pending: dict[int, Period] = {}
    for contract, plan, run_period in items:
        assert contract.id is not None
        due[contract.id], pending_decides = first_uninvoiced(
            contract, plan, run_period, invoiced.get(contract.id, set())
        )
        if pending_decides:
            ask_pending[contract.id] = run_period
    if ask_pending:
        pending = set(
            session.scalars(
                select(col(Contract.id)).where(
                    one_of(session, col(Contract.id), sorted(ask_pending)),
                    has_pending_charges(col(Contract.id)),
                )
            )
        )
        for contract_id, run_period in ask_pending.items():
            if contract_id in pending:
                due[contract_id] = run_period
    return due
