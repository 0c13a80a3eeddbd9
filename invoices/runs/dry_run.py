"""A dry run a chunk of contracts at a time, on the path a run's chunk bills on.

Each chunk is drafted in one savepoint of a transaction the caller rolls back: due periods
read together, the ended first periods closed together (`ledger.hours.bulk_closing`), their
inputs read together (`invoices.period_inputs`), each contract drafted by `issuing.draft_period`
(no number, no documents, no events, no payment), and the drafts' lines read back in one query.
If any contract fails, that savepoint is rolled back and the chunk is previewed again a
contract per savepoint, so one contract's failure is reported and the others are still shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices import lines as invoice_lines
from invoices.issuer import IssuerDetails
from invoices.issuing import Preview, draft_period, preview_period
from invoices.models import Invoice, InvoiceLine
from invoices.period_inputs import PeriodInputs, ToCompute, key_of, load_inputs
from invoices.runs.chunks import _load, describe
from invoices.runs.periods import next_unbilled_period, next_unbilled_periods
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import lock_contract, plan_of
from ledger.customers.models import Customer
from ledger.hours.bulk_closing import ToClose, close_periods
from ledger.hours.closing import period_has_ended
from ledger.periods import Period

NOT_ENDED_NOTE = "period not ended: preview only"


@dataclass
class ChunkPreview:
    previews: list[Preview]
    failures: list[dict[str, Any]]


def _previews(session: Session, drafted: list[tuple[Contract, Invoice, bool]]) -> list[Preview]:
    """The drafts as a dry run shows them, their lines read back in one query."""
    ids = [invoice.id for _, invoice, _ in drafted]
    lines: dict[int, list[invoice_lines.Line]] = defaultdict(list)
    for row in session.scalars(
        select(InvoiceLine)
        .where(col(InvoiceLine.invoice_id).in_(ids))
        .order_by(col(InvoiceLine.invoice_id), col(InvoiceLine.position))
    ):
        lines[row.invoice_id].append(
            invoice_lines.Line(
                row.kind, row.description, row.quantity, row.unit_price_minor, row.amount_minor
            )
        )
    previews = []
    for contract, invoice, ended in drafted:
        assert contract.id is not None and invoice.id is not None
        previews.append(
            Preview(
                contract_id=contract.id,
                customer_id=contract.customer_id,
                period=invoice.period_label,
                currency=contract.currency,
                lines=tuple(lines.get(invoice.id, [])),
                subtotal_minor=invoice.subtotal_minor,
                tax_minor=invoice.tax_minor,
                total_minor=invoice.total_minor,
                notes=[] if ended else [NOT_ENDED_NOTE],
            )
        )
    return previews


def _draft(
    session: Session,
    contract: Contract,
    plan: Plan,
    customers: dict[int, Customer],
    period: Period,
    inputs: PeriodInputs | None,
    *,
    now: datetime,
) -> tuple[Contract, Invoice, bool]:
    ended = period_has_ended(contract, period, now)
    draft = draft_period(
        session,
        contract=contract,
        plan=plan,
        customer=customers[contract.customer_id],
        period=period,
        now=now,
        preview=True,
        inputs=inputs,
    )
    return contract, draft.invoice, ended


def _preview_at_once(
    session: Session, contract_ids: list[int], run_period: Period, *, now: datetime
) -> list[Preview]:
    contracts, plans, customers = _load(session, sorted(set(contract_ids)))
    wanted = [(contracts[cid], plans[contracts[cid].plan_id], run_period) for cid in contract_ids]
    due = next_unbilled_periods(session, wanted)
    firsts = [(c, p, due[cid]) for cid, (c, p, _) in zip(contract_ids, wanted, strict=True)]
    close_periods(
        session,
        [
            ToClose(c, p, first)
            for c, p, first in firsts
            if first is not None and period_has_ended(c, first, now)
        ],
        now=now,
    )
    inputs = load_inputs(session, [ToCompute(c, p, f) for c, p, f in firsts if f is not None])
    shown: dict[int, list[tuple[Contract, Invoice, bool]]] = {}
    for contract, plan, period in firsts:
        assert contract.id is not None
        mine = shown.setdefault(contract.id, [])
        if period is not None:
            mine.append(
                _draft(
                    session,
                    contract,
                    plan,
                    customers,
                    period,
                    inputs[key_of(contract, period)],
                    now=now,
                )
            )
    # Catch-up: a contract with further due periods drafts them one by one, each after the
    # one before it settled what it billed.
    drafted = [(c, p, run_period) for c, p, f in firsts if f is not None]
    further = next_unbilled_periods(session, drafted)
    for contract, plan, _ in drafted:
        assert contract.id is not None
        period = further[contract.id]
        while period is not None:
            shown[contract.id].append(
                _draft(session, contract, plan, customers, period, None, now=now)
            )
            period = next_unbilled_period(session, contract, plan, run_period)
    drafted_in_order = [entry for cid in contract_ids for entry in shown[cid]]
    return _previews(session, drafted_in_order)


def _preview_one(
    session: Session,
    contract_id: int,
    run_period: Period,
    *,
    issuer: IssuerDetails,
    now: datetime,
) -> list[Preview]:
    contract = lock_contract(session, contract_id)
    plan: Plan = plan_of(session, contract)
    customer = session.get(Customer, contract.customer_id)
    assert customer is not None
    shown = []
    while (due := next_unbilled_period(session, contract, plan, run_period)) is not None:
        shown.append(
            preview_period(
                session,
                contract=contract,
                plan=plan,
                customer=customer,
                period=due,
                issuer=issuer,
                now=now,
            )
        )
    return shown


def preview_chunk(
    session: Session,
    contract_ids: list[int],
    run_period: Period,
    *,
    issuer: IssuerDetails,
    now: datetime,
) -> ChunkPreview:
    """Preview the contracts (each once, shown in the given order) in the caller's
    transaction, which the caller rolls back."""
    savepoint = session.begin_nested()
    try:
        previews = _preview_at_once(session, contract_ids, run_period, now=now)
        savepoint.commit()
        return ChunkPreview(previews=previews, failures=[])
    except Exception:
        savepoint.rollback()
    result = ChunkPreview(previews=[], failures=[])
    for contract_id in contract_ids:
        savepoint = session.begin_nested()
        try:
            shown = _preview_one(session, contract_id, run_period, issuer=issuer, now=now)
            savepoint.commit()
            result.previews.extend(shown)
        except Exception as exc:  # one contract's failure must not hide the others
            savepoint.rollback()
            result.failures.append({"contract_id": contract_id, "error": describe(exc)})
    return result
