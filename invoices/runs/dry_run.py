"""A dry run a chunk of contracts at a time, on the path a run's chunk bills on.

Each chunk is previewed in one savepoint of a transaction the caller rolls back: due periods
read together, their inputs read together (`invoices.period_inputs`) and computed by the one
billing computation (`computation.compute_period`). A contract with one due period (nearly
all) is shown from the computed totals and writes nothing; a contract catching up on several
is drafted by `issuing.draft_period` period after period (no number, no documents, no events,
no payment), exactly as a run drafts it, its drafts' lines read back in one query.
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
from invoices.computation import compute_period
from invoices.issuer import IssuerDetails
from invoices.issuing import Preview, draft_period, invoice_label, preview_period
from invoices.models import Invoice, InvoiceLine
from invoices.period_inputs import PeriodInputs, ToCompute, key_of, load_inputs
from invoices.runs.chunks import _load, describe
from invoices.runs.periods import (
    first_uninvoiced,
    invoiced_starts,
    next_unbilled_period,
    next_unbilled_periods,
)
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import lock_contract, plan_of
from ledger.customers.models import Customer
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
    assert isinstance(draft.invoice, Invoice)
    return contract, draft.invoice, ended


def _computed(
    contract: Contract, period: Period, totals: invoice_lines.Totals, *, ended: bool
) -> Preview:
    """A preview straight from the computed totals: what `draft_period` would write."""
    assert contract.id is not None
    return Preview(
        contract_id=contract.id,
        customer_id=contract.customer_id,
        period=invoice_label(period),
        currency=contract.currency,
        lines=totals.lines,
        subtotal_minor=totals.subtotal_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        notes=[] if ended else [NOT_ENDED_NOTE],
    )


def _preview_at_once(
    session: Session, contract_ids: list[int], run_period: Period, *, now: datetime
) -> list[Preview]:
    """A contract with one due period is computed from its inputs and written nowhere:
    closing its period writes allotments, expiry rows and the closed period, none of which
    the rules read (`invoices.period_inputs`). A contract with further due periods is drafted
    period after period as a run drafts it, each after the one before settled what it
    billed."""
    contracts, plans, customers = _load(session, sorted(set(contract_ids)))
    wanted = [(contracts[cid], plans[contracts[cid].plan_id], run_period) for cid in contract_ids]
    invoiced = invoiced_starts(session, sorted(set(contract_ids)))
    due = next_unbilled_periods(session, wanted, invoiced=invoiced)
    single: list[tuple[Contract, Plan, Period]] = []
    catch_up: list[tuple[Contract, Plan, Period]] = []
    for contract, plan, _ in wanted:
        assert contract.id is not None
        first = due[contract.id]
        if first is None:
            continue
        after, pending_decides = first_uninvoiced(
            contract, plan, run_period, invoiced.get(contract.id, set()) | {first.start}
        )
        (catch_up if after is not None or pending_decides else single).append(
            (contract, plan, first)
        )
    inputs = load_inputs(session, [ToCompute(c, p, f) for c, p, f in [*single, *catch_up]])
    shown: dict[int, list[Preview]] = defaultdict(list)
    for contract, plan, only in single:
        assert contract.id is not None
        totals, *_ = compute_period(
            session,
            contract=contract,
            plan=plan,
            customer=customers[contract.customer_id],
            period=only,
            now=now,
            inputs=inputs[key_of(contract, only)],
        )
        shown[contract.id].append(
            _computed(contract, only, totals, ended=period_has_ended(contract, only, now))
        )
    drafted: list[tuple[Contract, Invoice, bool]] = []
    for contract, plan, first in catch_up:
        period: Period | None = first
        mine: PeriodInputs | None = inputs[key_of(contract, first)]
        while period is not None:
            drafted.append(_draft(session, contract, plan, customers, period, mine, now=now))
            mine = None  # a later period reads its own, after this one settled what it billed
            period = next_unbilled_period(session, contract, plan, run_period)
    for preview in _previews(session, drafted):
        shown[preview.contract_id].append(preview)
    return [preview for cid in contract_ids for preview in shown.get(cid, [])]


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
