"""Corrections that follow a change of contract: credited on the next invoice as adjustments."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.fees import unused_advance_fees
from invoices.models import Adjustment, Invoice
from ledger.contracts.models import Contract
from ledger.contracts.service import plan_of
from ledger.periods import Period


def credit_unused_advance_fees(
    session: Session, contract: Contract, *, old_end: date | None
) -> list[Adjustment]:
    assert contract.id is not None
    invoiced = set(
        session.scalars(
            select(col(Invoice.period_start)).where(
                col(Invoice.contract_id) == contract.id, col(Invoice.status) != "void"
            )
        )
    )
    adjustments = []
    for period, amount in unused_advance_fees(
        contract, plan_of(session, contract), old_end=old_end, invoiced=invoiced
    ):
        adjustment = Adjustment(
            contract_id=contract.id,
            amount_minor=-amount,
            description=f"Unused advance fee {_name(period)} after the contract ended "
            f"{contract.end_date}",
        )
        session.add(adjustment)
        adjustments.append(adjustment)
    session.flush()
    return adjustments


def _name(period: Period) -> str:
    return period.range_label
