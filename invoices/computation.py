"""What a period's invoice bills, computed from the ledger with the billing rules, and settling
what it billed so that the next invoice never bills it again.

The one computation behind a dry run, a single contract and a run's chunk (`issuing.draft_period`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from invoices import lines as invoice_lines
from invoices.models import Adjustment, CreditCarryover, Invoice
from invoices.period_inputs import PeriodInputs, ToCompute, key_of, load_inputs
from invoices.sla_credits import SlaForPeriod, sla_for_period
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.hours.models import WorkEntry
from ledger.periods import Period

if TYPE_CHECKING:
    from invoices.writing import InvoiceRow

ComputedPeriod = tuple[
    invoice_lines.Totals, dict[str, int], list[Adjustment], list[CreditCarryover], SlaForPeriod
]


def compute_period(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    customer: Customer,
    period: Period,
    now: datetime,
    inputs: PeriodInputs | None = None,
) -> ComputedPeriod:
    """`inputs` are the period's inputs already read (`period_inputs.load_inputs`: a run's
    chunk reads them for all its contracts at once); without them they are read here, by the
    same loader with a list of one."""
    if inputs is None:
        inputs = load_inputs(session, [ToCompute(contract, plan, period)])[key_of(contract, period)]
    return compute_from_inputs(
        session,
        contract=contract,
        plan=plan,
        customer=customer,
        period=period,
        now=now,
        inputs=inputs,
    )


def compute_from_inputs(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    customer: Customer,
    period: Period,
    now: datetime,
    inputs: PeriodInputs,
) -> ComputedPeriod:
    """The billing rules applied to the inputs: reads nothing (the session is only handed on
    to the SLA reports, which read nothing when given their inputs)."""
    late, adjustments, carried = inputs.late, inputs.adjustments, inputs.carried
    sla = sla_for_period(
        session, contract=contract, plan=plan, period=period, now=now, inputs=inputs.sla
    )
    lines = [
        *invoice_lines.fee_lines(contract, plan, period),
        *invoice_lines.usage_lines(
            plan,
            period,
            overage_minutes=inputs.overage_minutes,
            on_demand_minutes=inputs.on_demand_minutes,
        ),
        *invoice_lines.late_work_lines(plan, late),
        *sla.credit_lines,
        *invoice_lines.adjustment_lines([(a.description, a.amount_minor) for a in adjustments]),
    ]
    totals = invoice_lines.finish(
        lines,
        currency=contract.currency,
        carried_credit_minor=sum(c.amount_minor for c in carried),
        tax_rate_percent=customer.tax_rate_percent,
        reverse_charge=customer.reverse_charge,
    )
    return totals, late, adjustments, carried, sla


REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)."
)


@dataclass
class Pending:
    """What a drafted invoice bills that must be marked billed once the invoice is written."""

    late: dict[str, int]
    adjustments: list[Adjustment]
    carried: list[CreditCarryover]
    carry_forward_minor: int


def settle_pending(
    session: Session, billed: Sequence[tuple[Invoice | InvoiceRow, Pending]]
) -> None:
    """Mark what these written invoices billed, so the next invoice never bills it again: one
    statement each for late work, adjustments, carried credits and new carry-forward credits,
    however many invoices (each of its own contract)."""
    if not billed:
        return
    late_of = {invoice.contract_id: invoice.id for invoice, pending in billed if pending.late}
    if late_of:
        session.execute(
            sa.update(WorkEntry)
            .where(
                col(WorkEntry.contract_id).in_(list(late_of)),
                col(WorkEntry.late).is_(True),
                col(WorkEntry.invoice_id).is_(None),
            )
            .values(invoice_id=sa.case(late_of, value=col(WorkEntry.contract_id)))
            .execution_options(synchronize_session="fetch")
        )
    _link(
        session,
        CreditCarryover,
        "applied_invoice_id",
        [(c, invoice.id) for invoice, pending in billed for c in pending.carried],
    )
    _link(
        session,
        Adjustment,
        "invoice_id",
        [(a, invoice.id) for invoice, pending in billed for a in pending.adjustments],
    )
    forward = []
    for invoice, pending in billed:
        if pending.carry_forward_minor:
            assert invoice.id is not None
            forward.append(
                CreditCarryover(
                    contract_id=invoice.contract_id,
                    amount_minor=pending.carry_forward_minor,
                    source_invoice_id=invoice.id,
                )
            )
    if forward:
        session.add_all(forward)
    session.flush()


def _link(
    session: Session,
    model: type[Adjustment] | type[CreditCarryover],
    attribute: str,
    rows: list[tuple[Any, int | None]],
) -> None:
    """Point each loaded row's `attribute` at its invoice, in one UPDATE for all of them."""
    if not rows:
        return
    target = {row.id: invoice_id for row, invoice_id in rows}
    session.execute(
        sa.update(model)
        .where(col(model.id).in_(list(target)))
        .values({attribute: sa.case(target, value=col(model.id))})
        .execution_options(synchronize_session=False)
    )
    for row, invoice_id in rows:
        set_committed_value(row, attribute, invoice_id)
