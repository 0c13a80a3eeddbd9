"""Billing one contract period into an issued invoice, and voiding an invoice.

The caller holds the contract lock and owns the transaction: closing the period, drafting the
invoice from `invoices.computation`, numbering it, queueing its documents (rendered after the
commit) and its payment all commit together or not at all. Writing and issuing drafts, one or a
chunk's worth at once, is `invoices.writing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices import documents, parties
from invoices import lines as invoice_lines
from invoices.computation import REVERSE_CHARGE_NOTE, Pending, compute_period
from invoices.issuer import IssuerDetails
from invoices.models import (
    CreditCarryover,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
)
from invoices.notifications import events as notify
from invoices.numbering import next_number
from invoices.payments.models import PaymentOutbox
from invoices.period_inputs import PeriodInputs
from invoices.writing import Draft, InvoiceRow, issue_drafts, write_drafts
from ledger.base import utcnow
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.errors import Conflict, NotFound
from ledger.hours.closing import close_period, period_has_ended
from ledger.periods import Period


class InvoiceImmutable(Conflict):
    title = "Invoice is immutable"


@dataclass
class Preview:
    """What a dry run would issue for one contract period."""

    contract_id: int
    customer_id: int
    period: str
    currency: str
    lines: tuple[invoice_lines.Line, ...]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    notes: list[str] = field(default_factory=list)


def invoice_label(period: Period) -> str:
    """Invoices are named by the month whose run issues them (a quarter by its last month)."""
    return period.last_month


def existing_invoice(session: Session, contract_id: int, period: Period) -> Invoice | None:
    return session.scalar(
        select(Invoice).where(
            col(Invoice.contract_id) == contract_id, col(Invoice.period_start) == period.start
        )
    )


def preview_period(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    customer: Customer,
    period: Period,
    issuer: IssuerDetails,
    now: datetime,
) -> Preview:
    """The invoice a run would issue now, built by the real billing path but left a draft
    (no number, no PDF, no payment). The caller's transaction is rolled back afterwards; a
    period that has not ended yet is previewed as it stands."""
    assert contract.id is not None
    ended = period_has_ended(contract, period, now)
    invoice = bill_period(
        session,
        contract=contract,
        plan=plan,
        customer=customer,
        period=period,
        issuer=issuer,
        now=now,
        preview=True,
    )
    assert invoice.id is not None
    return Preview(
        contract_id=contract.id,
        customer_id=contract.customer_id,
        period=invoice.period_label,
        currency=contract.currency,
        lines=tuple(
            invoice_lines.Line(
                row.kind, row.description, row.quantity, row.unit_price_minor, row.amount_minor
            )
            for row in invoice_lines_of(session, invoice.id)
        ),
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        notes=[] if ended else ["period not ended: preview only"],
    )


def bill_period(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    customer: Customer,
    period: Period,
    issuer: IssuerDetails,
    now: datetime,
    billing_run_id: int | None = None,
    preview: bool = False,
) -> Invoice:
    """Close the period and issue its invoice; a second call returns the same invoice.

    `preview` stops before issuing (no number, no PDF, no payment) and tolerates a period
    that has not ended: what a dry run shows, in a transaction it rolls back."""
    assert contract.id is not None
    found = existing_invoice(session, contract.id, period)
    if found is not None:
        return found
    draft = draft_period(
        session,
        contract=contract,
        plan=plan,
        customer=customer,
        period=period,
        now=now,
        billing_run_id=billing_run_id,
        preview=preview,
    )
    if not preview:
        issue_drafts(session, [draft], issuer=issuer, now=now)
    assert isinstance(draft.invoice, Invoice)
    return draft.invoice


def draft_period(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    customer: Customer,
    period: Period,
    now: datetime,
    billing_run_id: int | None = None,
    preview: bool = False,
    inputs: PeriodInputs | None = None,
    deferred: bool = False,
    closed: bool = False,
) -> Draft:
    """Close the period and write its invoice as a draft, with everything it bills settled.

    The one billing path: a dry run, a single contract and a run's chunk all come here; the
    draft gets its number when its chunk is issued (`issue_drafts`). `inputs` are the
    period's inputs read after its closing (a chunk reads them for all its contracts at once,
    `period_inputs.load_inputs`); without them `compute_period` reads them. `deferred` leaves
    the writing to the caller (`write_drafts` for a whole chunk at once): nothing of the
    invoice is written yet, and what it settles is still pending. `closed` says the caller has
    closed the period already (a chunk closes its contracts' periods together)."""
    assert contract.id is not None
    if not closed and (not preview or period_has_ended(contract, period, now)):
        close_period(session, contract, plan, period, now=now)
    totals, late, adjustments, carried, _sla = compute_period(
        session,
        contract=contract,
        plan=plan,
        customer=customer,
        period=period,
        now=now,
        inputs=inputs,
    )
    columns: dict[str, Any] = dict(
        customer_id=contract.customer_id,
        contract_id=contract.id,
        period_start=period.start,
        period_end=period.end,
        period_label=invoice_label(period),
        currency=contract.currency,
        subtotal_minor=totals.subtotal_minor,
        tax_rate_percent=customer.tax_rate_percent,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        reverse_charge=customer.reverse_charge,
        note=REVERSE_CHARGE_NOTE if customer.reverse_charge else "",
        billing_run_id=billing_run_id,
    )
    # A chunk's drafts are written together as plain rows; a single contract's is its Invoice.
    invoice = InvoiceRow(**columns) if deferred else Invoice(**columns)
    draft = Draft(
        invoice=invoice,
        customer=customer,
        lines=totals.lines,
        pending=Pending(
            late=late,
            adjustments=adjustments,
            carried=carried,
            carry_forward_minor=totals.carry_forward_minor,
        ),
    )
    if not deferred:
        write_drafts(session, [draft])
    return draft


def _restore_credit(session: Session, voided: Invoice) -> None:
    """Carried credit follows a void: what the invoice took is owed to the customer again; what
    it created is withdrawn, and if a later invoice already used it, taken back on the next."""
    took = session.scalars(
        select(CreditCarryover).where(col(CreditCarryover.applied_invoice_id) == voided.id)
    ).all()
    created = session.scalars(
        select(CreditCarryover).where(col(CreditCarryover.source_invoice_id) == voided.id)
    ).all()
    used_elsewhere = 0
    for carryover in created:
        if carryover.applied_invoice_id is None:
            carryover.applied_invoice_id = voided.id  # withdrawn with the invoice
        else:
            used_elsewhere += carryover.amount_minor
    net = sum(c.amount_minor for c in took) - used_elsewhere
    if net:
        assert voided.id is not None
        session.add(
            CreditCarryover(
                contract_id=voided.contract_id, amount_minor=net, source_invoice_id=voided.id
            )
        )
    session.flush()


def invoice_lines_of(session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id) == invoice_id)
            .order_by(col(InvoiceLine.position))
        )
    )


def void_invoice(
    session: Session,
    invoice_id: int,
    *,
    issuer: IssuerDetails,
    reason: str,
    now: datetime | None = None,
) -> CreditNote:
    """Cancel an issued invoice with a credit note for its full amount."""
    now = now or utcnow()
    invoice = session.scalar(select(Invoice).where(col(Invoice.id) == invoice_id).with_for_update())
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    session.refresh(invoice)
    if invoice.status != "issued":
        raise InvoiceImmutable(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: only an issued, unpaid "
            "invoice can be voided"
        )
    if invoice.payment_status == "pending":
        raise Conflict(
            f"a payment of invoice {invoice.number} is being collected: void it once the "
            "collection has finished"
        )
    assert invoice.number is not None
    issue_date = now.date()
    number = next_number(session, issuer=issuer.name, kind="credit_note", year=issue_date.year)
    originals = invoice_lines_of(session, invoice_id)
    credit_lines = [
        CreditNoteLine(
            credit_note_id=0,
            position=line.position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            amount_minor=-line.amount_minor,
        )
        for line in originals
    ]
    assert invoice.id is not None
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    note = CreditNote(
        number=number,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        issue_date=issue_date,
        reason=reason,
        subtotal_minor=-invoice.subtotal_minor,
        tax_minor=-invoice.tax_minor,
        total_minor=-invoice.total_minor,
        parties=parties.snapshot(customer, issuer),  # what its documents show, as of now
    )
    session.add(note)
    session.flush()
    assert note.id is not None
    for line in credit_lines:
        line.credit_note_id = note.id
        session.add(line)
    session.flush()
    documents.render_credit_note_documents(session, note.id, issuer=issuer)
    invoice.status = "void"
    invoice.voided_at = now
    _restore_credit(session, invoice)
    session.execute(
        sa.update(PaymentOutbox)
        .where(col(PaymentOutbox.invoice_id) == invoice.id, col(PaymentOutbox.state) == "pending")
        .values(state="cancelled", updated_at=now)
    )
    session.flush()
    notify.invoice_voided(session, invoice, note, now=now)
    return note
