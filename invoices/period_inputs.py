"""Everything the billing rules read to bill a contract period, for many periods at once.

`invoices.computation.compute_period` bills from a `PeriodInputs`: the period's overage totals,
late work, adjustments and carried credit still pending, and the SLA facts of its months
(incidents, tickets). A run's chunk reads them for all its contracts in a fixed number of
set-based queries; a single contract is the same call with a list of one, so the two can
never drift apart.

What is pending (late work, adjustments, carried credit) is the contract's as it stands now:
load a contract's period again after billing one before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Adjustment, CreditCarryover
from ledger.bulk import one_of
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.hours.models import PeriodOverage, WorkEntry
from ledger.periods import Period, month_label
from ledger.sla import terms
from ledger.sla.availability import month_bounds
from ledger.sla.incidents import IncidentRow, incident_rows
from ledger.sla.tickets import TicketTimes, ticket_times


@dataclass(frozen=True)
class ToCompute:
    contract: Contract
    plan: Plan
    period: Period


@dataclass(frozen=True)
class SlaInputs:
    """Incidents and tickets touching a period's months (a superset is fine: the SLA rules
    pick each month's own)."""

    incidents: Sequence[IncidentRow]
    tickets: Sequence[TicketTimes]


@dataclass(frozen=True)
class PeriodInputs:
    overage_minutes: int
    on_demand_minutes: int
    late: dict[str, int]  # late minutes (net of reversals) not yet invoiced, by period month
    adjustments: list[Adjustment]  # not yet invoiced, in id order
    carried: list[CreditCarryover]  # not yet applied, in id order
    sla: SlaInputs


InputsKey = tuple[int, date]  # (contract id, period start)


def key_of(contract: Contract, period: Period) -> InputsKey:
    assert contract.id is not None
    return contract.id, period.start


def _window(item: ToCompute) -> tuple[datetime, datetime]:
    """The period's months on the contract's clock, as UTC."""
    first, last = item.period.start, item.period.end - timedelta(days=1)
    start, _ = month_bounds(first.year, first.month, item.contract.timezone)
    _, end = month_bounds(last.year, last.month, item.contract.timezone)
    return start, end


def load_sla_inputs(session: Session, items: Sequence[ToCompute]) -> dict[InputsKey, SlaInputs]:
    """Incidents and tickets of all the periods in two queries."""
    if not items:
        return {}
    windows = [_window(item) for item in items]
    start, end = min(w[0] for w in windows), max(w[1] for w in windows)
    names = {name for item in items for name, _ in terms.components(item.plan)}
    incidents = incident_rows(session, names, start, end) if names else []
    contract_ids = [item.contract.id for item in items if item.contract.id is not None]
    tickets: dict[int, list[TicketTimes]] = defaultdict(list)
    for ticket in ticket_times(session, contract_ids, start, end):
        tickets[ticket.contract_id].append(ticket)
    return {
        key_of(item.contract, item.period): SlaInputs(
            incidents=incidents, tickets=tickets.get(key_of(item.contract, item.period)[0], [])
        )
        for item in items
    }


def load_inputs(session: Session, items: Sequence[ToCompute]) -> dict[InputsKey, PeriodInputs]:
    """The inputs of every (contract, plan, period) in a fixed number of queries, however many
    periods: overage totals, late work, adjustments, carried credit, incidents and tickets."""
    if not items:
        return {}
    contract_ids = sorted({cid for cid, _ in (key_of(i.contract, i.period) for i in items)})
    starts = sorted({item.period.start for item in items})
    overages = {
        (row.contract_id, row.period_start): row
        for row in session.scalars(
            select(PeriodOverage).where(
                one_of(session, col(PeriodOverage.contract_id), contract_ids),
                one_of(session, col(PeriodOverage.period_start), starts),
            )
        )
    }
    late: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for contract_id, period_start, minutes in session.execute(
        select(
            col(WorkEntry.contract_id),
            col(WorkEntry.period_start),
            sa.func.sum(WorkEntry.billable_minutes),
        )
        .where(
            one_of(session, col(WorkEntry.contract_id), contract_ids),
            col(WorkEntry.late).is_(True),
            col(WorkEntry.invoice_id).is_(None),
        )
        .group_by(col(WorkEntry.contract_id), col(WorkEntry.period_start))
    ):
        late[contract_id][month_label(period_start)] += int(minutes or 0)
    adjustments: dict[int, list[Adjustment]] = defaultdict(list)
    for adjustment in session.scalars(
        select(Adjustment)
        .where(
            one_of(session, col(Adjustment.contract_id), contract_ids),
            col(Adjustment.invoice_id).is_(None),
        )
        .order_by(col(Adjustment.id))
    ):
        adjustments[adjustment.contract_id].append(adjustment)
    carried: dict[int, list[CreditCarryover]] = defaultdict(list)
    for carryover in session.scalars(
        select(CreditCarryover)
        .where(
            one_of(session, col(CreditCarryover.contract_id), contract_ids),
            col(CreditCarryover.applied_invoice_id).is_(None),
        )
        .order_by(col(CreditCarryover.id))
    ):
        carried[carryover.contract_id].append(carryover)
    sla = load_sla_inputs(session, items)
    inputs = {}
    for item in items:
        key = key_of(item.contract, item.period)
        contract_id = key[0]
        overage = overages.get(key)
        inputs[key] = PeriodInputs(
            overage_minutes=overage.overage_minutes if overage is not None else 0,
            on_demand_minutes=overage.on_demand_minutes if overage is not None else 0,
            late=dict(late.get(contract_id, {})),
            adjustments=list(adjustments.get(contract_id, [])),
            carried=list(carried.get(contract_id, [])),
            sla=sla[key],
        )
    return inputs
