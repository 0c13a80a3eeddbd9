"""Everything an invoice's (or credit note's) documents show, loaded in one go as plain data.

`DocumentData` is frozen and holds no session, so `build_documents` can run in another process.
It is built from the issued, immutable rows only (and the issuer passed in), so rendering it
again gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices import pdf
from invoices.einvoice.mapping import Buyer, SourceLine, build_einvoice
from invoices.einvoice.model import EInvoice
from invoices.issuer import IssuerDetails
from invoices.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from invoices.sla_credits import sla_for_period
from invoices.statement_data import hours_summary, statement_entries
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.errors import NotFound
from ledger.hours import book
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


def _pdf_customer(customer: Customer) -> pdf.Customer:
    return pdf.Customer(
        name=customer.name,
        address_lines=tuple(customer.address),
        country=customer.country,
        tax_id=customer.tax_id,
        email=customer.email,
    )


def _invoice_lines(session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id) == invoice_id)
            .order_by(col(InvoiceLine.position))
        )
    )


def _buyer(customer: Customer) -> Buyer:
    assert customer.id is not None
    return Buyer(
        customer_id=customer.id,
        name=customer.name,
        street=customer.street,
        city=customer.city,
        postal_code=customer.postal_code,
        country=customer.country,
        vat_id=customer.vat_id,
        email=customer.email,
        buyer_reference=customer.buyer_reference,
    )


def _source(line: InvoiceLine | CreditNoteLine, sign: int = 1) -> SourceLine:
    return SourceLine(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price_minor=line.unit_price_minor,
        amount_minor=sign * line.amount_minor,
    )


def _issued_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.status == "draft" or invoice.number is None:
        raise NotFound(f"no issued invoice {invoice_id}")
    return invoice


def document_data(session: Session, invoice_id: int, *, issuer: IssuerDetails) -> DocumentData:
    """An issued invoice's documents' content, with its hours and SLA figures as of issue."""
    invoice = _issued_invoice(session, invoice_id)
    contract = session.get(Contract, invoice.contract_id)
    customer = session.get(Customer, invoice.customer_id)
    assert contract is not None and customer is not None and contract.id is not None
    assert invoice.issue_date is not None and invoice.number is not None
    plan = session.get(Plan, contract.plan_id)
    assert plan is not None
    period = Period(invoice.period_start, invoice.period_end)
    as_of = invoice.issued_at or invoice.created_at
    overage = book.period_totals(session, contract.id, period.start)
    sla = sla_for_period(session, contract=contract, plan=plan, period=period, now=as_of)
    rows = _invoice_lines(session, invoice_id)
    document = pdf.PdfDocument(
        kind="invoice",
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        period=invoice.period_label,
        currency=invoice.currency,
        issuer=issuer.for_pdf(),
        customer=_pdf_customer(customer),
        lines=tuple(_pdf_line(line) for line in rows),
        subtotal_minor=invoice.subtotal_minor,
        tax_rate_percent=invoice.tax_rate_percent,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        template_version=pdf.TEMPLATE_VERSION,
        reverse_charge=invoice.reverse_charge,
        hours=hours_summary(
            session,
            contract.id,
            period,
            overage_minutes=overage.overage_minutes + overage.on_demand_minutes,
            now=as_of,
        ),
        sla=sla.summary,
        payment_instructions=issuer.payment_instructions,
        statement=tuple(statement_entries(session, contract.id, period)),
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
        buyer=_buyer(customer),
        lines=[_source(line) for line in rows],
        tax_rate_percent=invoice.tax_rate_percent,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        reverse_charge=invoice.reverse_charge,
        notes=(invoice.note,) if invoice.note else (),
    )
    return DocumentData(owner="invoice", owner_id=invoice_id, pdf=document, einvoice=einvoice)


def credit_note_data(
    session: Session, credit_note_id: int, *, issuer: IssuerDetails
) -> DocumentData:
    note = session.get(CreditNote, credit_note_id)
    if note is None:
        raise NotFound(f"no credit note {credit_note_id}")
    invoice = session.get(Invoice, note.invoice_id)
    customer = session.get(Customer, note.customer_id)
    assert invoice is not None and customer is not None and invoice.number is not None
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
        customer=_pdf_customer(customer),
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
        buyer=_buyer(customer),
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
