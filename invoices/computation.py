"""What a period's invoice bills, computed from the ledger with the billing rules, and settling
what it billed so that the next invoice never bills it again.

The one computation behind a dry run, a single contract and a run's chunk (`issuing.draft_period`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
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


def settle_pending(
    session: Session,
    contract: Contract,
    invoice: Invoice,
    *,
    late: dict[str, int],
    adjustments: list[Adjustment],
    carried: list[CreditCarryover],
    carry_forward: int,
) -> None:
    """Mark what this invoice billed, so the next invoice never bills it again."""
    if late:
        session.execute(
            sa.update(WorkEntry)
            .where(
                col(WorkEntry.contract_id) == contract.id,
                col(WorkEntry.late).is_(True),
                col(WorkEntry.invoice_id).is_(None),
            )
            .values(invoice_id=invoice.id)
        )
    for adjustment in adjustments:
        adjustment.invoice_id = invoice.id
    for carryover in carried:
        carryover.applied_invoice_id = invoice.id
    if carry_forward:
        assert contract.id is not None and invoice.id is not None
        session.add(
            CreditCarryover(
                contract_id=contract.id, amount_minor=carry_forward, source_invoice_id=invoice.id
            )
        )
    session.flush()
