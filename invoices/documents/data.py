"""Everything an invoice's (or credit note's) documents show, loaded in one go as plain data.

`DocumentData` is frozen and holds no session, so `build_documents` can run in another process.
It is built from the issued, immutable rows only, their parties (customer and issuer) as stored
at issue (`invoices.parties`), so rendering it again, later or elsewhere, gives the same bytes.
The issuer passed in and the customer row as it is now stand in only for a row issued before
parties were stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices import pdf
from invoices.einvoice.mapping import SourceLine, build_einvoice
from invoices.einvoice.model import EInvoice
from invoices.issuer import IssuerDetails
from invoices.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from invoices.parties import Parties, as_issued
from invoices.period_inputs import SlaInputs, ToCompute, load_sla_inputs
from invoices.sla_credits import sla_for_period
from invoices.statement_data import (
    StatementPeriod,
    hours_summary,
    period_allotments_many,
    statement_entries_many,
)
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.errors import NotFound
from ledger.hours.models import Allotment, PeriodOverage
from ledger.periods import Period

OwnerKind = Literal["invoice", "credit_note"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentData:
    """The documents of one invoice or credit note, before rendering."""

    owner: OwnerKind
    owner_id: int
    pdf: pdf.PdfDocument
    einvoice: EInvoice


def _pdf_line(line: InvoiceLine | CreditNoteLine) -> pdf.InvoiceLine:
    return pdf.InvoiceLine(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price_minor=line.unit_price_minor,
        amount_minor=line.amount_minor,
    )


def _source(line: InvoiceLine | CreditNoteLine, sign: int = 1) -> SourceLine:
    return SourceLine(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price_minor=line.unit_price_minor,
        amount_minor=sign * line.amount_minor,
    )


def document_data(session: Session, invoice_id: int, *, issuer: IssuerDetails) -> DocumentData:
    """An issued invoice's documents' content, with its hours and SLA figures as of issue: the
    batch loader with a list of one, so the two can never drift apart."""
    data = documents_data(session, [invoice_id], issuer=issuer)[invoice_id]
    if isinstance(data, Exception):
        raise data
    return data


def documents_data(
    session: Session, invoice_ids: Sequence[int], *, issuer: IssuerDetails
) -> dict[int, DocumentData | Exception]:
    """Many issued invoices' documents' content in a fixed number of queries, whatever their
    number: the invoices, their lines, contracts, customers and plans, overage totals,
    allotments, work entries with their coverage, incidents and tickets, each read once for
    the whole batch. An invoice that cannot be loaded (not issued, say) gets its exception
    instead, the others are unaffected."""
    ids = list(dict.fromkeys(invoice_ids))
    if not ids:
        return {}
    found = {
        invoice.id: invoice
        for invoice in session.scalars(select(Invoice).where(col(Invoice.id).in_(ids)))
    }
    issued = [
        found[i]
        for i in ids
        if i in found and found[i].status != "draft" and found[i].number is not None
    ]
    contracts = _by_id(session, Contract, {invoice.contract_id for invoice in issued})
    # Only an invoice issued before parties were stored shows its customer as it is now.
    customers = _by_id(
        session, Customer, {invoice.customer_id for invoice in issued if not invoice.parties}
    )
    plans = _by_id(session, Plan, {contract.plan_id for contract in contracts.values()})
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    if issued:
        for line in session.scalars(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id).in_([invoice.id for invoice in issued]))
            .order_by(col(InvoiceLine.invoice_id), col(InvoiceLine.position))
        ):
            lines[line.invoice_id].append(line)
    periods = [
        (invoice, contracts[invoice.contract_id], Period(invoice.period_start, invoice.period_end))
        for invoice in issued
    ]
    keys = [(contract.id or 0, period.start) for _, contract, period in periods]
    overages = _overages(session, keys)
    sla_inputs = load_sla_inputs(
        session,
        [ToCompute(contract, plans[contract.plan_id], period) for _, contract, period in periods],
    )
    allotments = period_allotments_many(session, keys)
    statements = statement_entries_many(
        session,
        [
            StatementPeriod(contract_id=contract.id or 0, period=period, invoice_id=invoice.id)
            for invoice, contract, period in periods
        ],
    )
    result: dict[int, DocumentData | Exception] = {
        i: NotFound(f"no issued invoice {i}") for i in ids
    }
    for (invoice, contract, period), key in zip(periods, keys, strict=True):
        assert invoice.id is not None
        try:
            result[invoice.id] = _invoice_data(
                session,
                invoice,
                contract=contract,
                parties=as_issued(
                    invoice.parties, customer=customers.get(invoice.customer_id), issuer=issuer
                ),
                plan=plans[contract.plan_id],
                period=period,
                lines=lines.get(invoice.id, []),
                overage=overages.get(key),
                sla_inputs=sla_inputs[key],
                allotments=allotments.get(key, []),
                statement=statements[key],
            )
        except Exception as exc:  # this invoice's only: the batch goes on
            result[invoice.id] = exc
    return result


M = TypeVar("M", Contract, Customer, Plan)


def _by_id(session: Session, model: type[M], ids: set[int]) -> dict[int, M]:
    if not ids:
        return {}
    return {
        row.id: row
        for row in session.scalars(select(model).where(col(model.id).in_(sorted(ids))))
        if row.id is not None
    }


def _overages(
    session: Session, keys: Sequence[tuple[int, date]]
) -> dict[tuple[int, date], PeriodOverage]:
    """The periods' running overage totals (`book.period_totals` for many): absent is zero."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.scalars(
        select(PeriodOverage).where(
            col(PeriodOverage.contract_id).in_(sorted({c for c, _ in wanted})),
            col(PeriodOverage.period_start).in_(sorted({s for _, s in wanted})),
        )
    )
    return {
        (row.contract_id, row.period_start): row
        for row in rows
        if (row.contract_id, row.period_start) in wanted
    }


def _invoice_data(
    session: Session,
    invoice: Invoice,
    *,
    contract: Contract,
    parties: Parties,
    plan: Plan,
    period: Period,
    lines: Sequence[InvoiceLine],
    overage: PeriodOverage | None,
    sla_inputs: SlaInputs,
    allotments: Sequence[Allotment],
    statement: Sequence[pdf.StatementEntry],
) -> DocumentData:
    """One invoice's documents' content from what `documents_data` read (the SLA figures from
    the inputs given, so `sla_for_period` reads nothing), its parties as of issue."""
    assert invoice.id is not None and contract.id is not None
    assert invoice.issue_date is not None and invoice.number is not None
    as_of = invoice.issued_at or invoice.created_at
    issuer = parties.issuer
    overage_minutes = (overage.overage_minutes + overage.on_demand_minutes) if overage else 0
    sla = sla_for_period(
        session, contract=contract, plan=plan, period=period, now=as_of, inputs=sla_inputs
    )
    document = pdf.PdfDocument(
        kind="invoice",
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        period=invoice.period_label,
        currency=invoice.currency,
        issuer=issuer.for_pdf(),
        customer=parties.customer,
        lines=tuple(_pdf_line(line) for line in lines),
        subtotal_minor=invoice.subtotal_minor,
        tax_rate_percent=invoice.tax_rate_percent,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        template_version=pdf.TEMPLATE_VERSION,
        reverse_charge=invoice.reverse_charge,
        hours=hours_summary(
            allotments, timezone=contract.timezone, overage_minutes=overage_minutes, now=as_of
        ),
        sla=sla.summary,
        payment_instructions=issuer.payment_instructions,
        statement=tuple(statement),
        sample=issuer.sample,
    )
    einvoice = build_einvoice(
        credit_note=False,
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        period_start=invoice.period_start,
        period_end_exclusive=invoice.period_end,
        issuer=issuer,
        buyer=parties.buyer,
        lines=[_source(line) for line in lines],
        tax_rate_percent=invoice.tax_rate_percent,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        reverse_charge=invoice.reverse_charge,
        notes=(invoice.note,) if invoice.note else (),
    )
    return DocumentData(owner="invoice", owner_id=invoice.id, pdf=document, einvoice=einvoice)


def credit_note_data(
    session: Session, credit_note_id: int, *, issuer: IssuerDetails
) -> DocumentData:
    note = session.get(CreditNote, credit_note_id)
    if note is None:
        raise NotFound(f"no credit note {credit_note_id}")
    invoice = session.get(Invoice, note.invoice_id)
    assert invoice is not None and invoice.number is not None
    # Its parties as of its issue (a note issued before they were stored: as they are now).
    customer = None if note.parties else session.get(Customer, note.customer_id)
    parties = as_issued(note.parties, customer=customer, issuer=issuer)
    issuer = parties.issuer
    lines = session.scalars(
        select(CreditNoteLine)
        .where(col(CreditNoteLine.credit_note_id) == credit_note_id)
        .order_by(col(CreditNoteLine.position))
    ).all()
    document = pdf.PdfDocument(
        kind="credit_note",
        number=note.number,
        issue_date=note.issue_date,
        due_date=None,
        period=invoice.period_label,
        currency=note.currency,
        issuer=issuer.for_pdf(),
        customer=parties.customer,
        lines=tuple(_pdf_line(line) for line in lines),
        subtotal_minor=note.subtotal_minor,
        tax_rate_percent=invoice.tax_rate_percent,
        tax_minor=note.tax_minor,
        total_minor=note.total_minor,
        template_version=pdf.TEMPLATE_VERSION,
        reverse_charge=invoice.reverse_charge,
        credited_invoice_number=invoice.number,
        sample=issuer.sample,
    )
    # EN 16931 wants a credit note's amounts positive: the credited invoice's own figures.
    einvoice = build_einvoice(
        credit_note=True,
        number=note.number,
        issue_date=note.issue_date,
        due_date=None,
        currency=note.currency,
        period_start=invoice.period_start,
        period_end_exclusive=invoice.period_end,
        issuer=issuer,
        buyer=parties.buyer,
        lines=[_source(line, -1) for line in lines],
        tax_rate_percent=invoice.tax_rate_percent,
        tax_minor=-note.tax_minor,
        total_minor=-note.total_minor,
        reverse_charge=invoice.reverse_charge,
        notes=tuple(text for text in (note.reason, invoice.note) if text),
        preceding_invoice=invoice.number,
        preceding_invoice_date=invoice.issue_date,
    )
    return DocumentData(
        owner="credit_note", owner_id=credit_note_id, pdf=document, einvoice=einvoice
    )
