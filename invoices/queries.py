"""Reading invoices and credit notes, with customer isolation (404 for what is not theirs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.documents import document_digest
from invoices.issuing import Preview, invoice_lines_of
from invoices.lines import Line
from invoices.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from invoices.runs.models import BillingRun
from invoices.schemas import BillingRunRead, CreditNoteRead, InvoiceRead, LineRead, PreviewRead
from invoices.writing import InvoiceRow
from ledger import money
from ledger.errors import NotFound
from ledger.periods import parse_month


def get_invoice(session: Session, invoice_id: int, *, visible_to: int | None = None) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (visible_to is not None and invoice.customer_id != visible_to):
        raise NotFound(f"no invoice {invoice_id}")
    if invoice.status == "draft":
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def list_invoices(
    session: Session,
    *,
    after_id: int | None,
    limit: int,
    customer_id: int | None = None,
    period: str | None = None,
    status: str | None = None,
    contract_id: int | None = None,
    billing_run_id: int | None = None,
) -> Sequence[Invoice]:
    query = select(Invoice).where(col(Invoice.status) != "draft")
    if billing_run_id is not None:
        query = query.where(col(Invoice.billing_run_id) == billing_run_id)
    if customer_id is not None:
        query = query.where(col(Invoice.customer_id) == customer_id)
    if contract_id is not None:
        query = query.where(col(Invoice.contract_id) == contract_id)
    if period is not None:
        # Any month of the invoiced period finds it: a quarter by any of its three months.
        month = parse_month(period)
        query = query.where(col(Invoice.period_start) <= month, col(Invoice.period_end) > month)
    if status is not None:
        query = query.where(col(Invoice.status) == status)
    if after_id is not None:
        query = query.where(col(Invoice.id) > after_id)
    return session.scalars(query.order_by(col(Invoice.id)).limit(limit)).all()


def get_credit_note(
    session: Session, credit_note_id: int, *, visible_to: int | None = None
) -> CreditNote:
    note = session.get(CreditNote, credit_note_id)
    if note is None or (visible_to is not None and note.customer_id != visible_to):
        raise NotFound(f"no credit note {credit_note_id}")
    return note


def _line(line: InvoiceLine | CreditNoteLine | Line, currency: str) -> LineRead:
    return LineRead(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price=(
            None
            if line.unit_price_minor is None
            else money.format_amount(line.unit_price_minor, currency)
        ),
        amount=money.format_amount(line.amount_minor, currency),
    )


def invoice_to_read(session: Session, invoice: Invoice) -> InvoiceRead:
    assert invoice.id is not None
    credit_note_id = session.scalar(
        select(col(CreditNote.id)).where(col(CreditNote.invoice_id) == invoice.id)
    )
    pdf_sha256, template_version = document_digest(session, invoice_id=invoice.id) or (None, None)
    return _invoice_read(
        invoice,
        invoice_lines_of(session, invoice.id),
        credit_note_id=credit_note_id,
        pdf_sha256=pdf_sha256,
        template_version=template_version,
    )


def issued_invoice_to_read(invoice: Invoice | InvoiceRow, lines: Sequence[Line]) -> InvoiceRead:
    """What `invoice_to_read` gives for an invoice issued in this very transaction, from its
    drafted lines: no document is rendered and no credit note exists before the commit."""
    return _invoice_read(
        invoice, lines, credit_note_id=None, pdf_sha256=None, template_version=None
    )


def _invoice_read(
    invoice: Invoice | InvoiceRow,
    lines: Sequence[InvoiceLine | Line],
    *,
    credit_note_id: int | None,
    pdf_sha256: str | None,
    template_version: str | None,
) -> InvoiceRead:
    assert invoice.id is not None
    fmt = money.format_amount
    return InvoiceRead(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status,
        currency=invoice.currency,
        period=invoice.period_label,
        customer_id=invoice.customer_id,
        contract_id=invoice.contract_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        lines=[_line(line, invoice.currency) for line in lines],
        subtotal=fmt(invoice.subtotal_minor, invoice.currency),
        tax_rate_percent=str(invoice.tax_rate_percent),
        tax=fmt(invoice.tax_minor, invoice.currency),
        total=fmt(invoice.total_minor, invoice.currency),
        reverse_charge=invoice.reverse_charge,
        note=invoice.note,
        pdf_sha256=pdf_sha256,
        template_version=template_version,
        payment_status=invoice.payment_status,
        payment_failure_message=invoice.payment_failure_message,
        credit_note_id=credit_note_id,
        issued_at=invoice.issued_at,
        paid_at=invoice.paid_at,
        voided_at=invoice.voided_at,
    )


def credit_note_to_read(session: Session, note: CreditNote) -> CreditNoteRead:
    assert note.id is not None
    fmt = money.format_amount
    lines = session.scalars(
        select(CreditNoteLine)
        .where(col(CreditNoteLine.credit_note_id) == note.id)
        .order_by(col(CreditNoteLine.position))
    ).all()
    invoice = session.get(Invoice, note.invoice_id)
    pdf = document_digest(session, credit_note_id=note.id)
    return CreditNoteRead(
        id=note.id,
        number=note.number,
        invoice_id=note.invoice_id,
        invoice_number=invoice.number if invoice else None,
        customer_id=note.customer_id,
        currency=note.currency,
        issue_date=note.issue_date,
        reason=note.reason,
        lines=[_line(line, note.currency) for line in lines],
        subtotal=fmt(note.subtotal_minor, note.currency),
        tax=fmt(note.tax_minor, note.currency),
        total=fmt(note.total_minor, note.currency),
        pdf_sha256=pdf[0] if pdf else None,
    )


def preview_to_read(preview: Preview) -> PreviewRead:
    fmt = money.format_amount
    c = preview.currency
    return PreviewRead(
        contract_id=preview.contract_id,
        customer_id=preview.customer_id,
        period=preview.period,
        currency=c,
        lines=[_line(line, c) for line in preview.lines],
        subtotal=fmt(preview.subtotal_minor, c),
        tax=fmt(preview.tax_minor, c),
        total=fmt(preview.total_minor, c),
        notes=preview.notes,
    )


def billing_run_to_read(run: BillingRun, summary: dict[str, Any]) -> BillingRunRead:
    """A billing run as `GET /v1/billing-runs/{id}` shows it (and its webhook event)."""
    return BillingRunRead(
        id=run.id,
        period=run.period_label,
        dry_run=False,
        status=run.status,
        contracts=int(summary.get("contracts", 0)),
        done=int(summary.get("done", 0)),
        failed=int(summary.get("failed", len(summary.get("failures", [])))),
        invoices=int(summary.get("invoices", 0)),
        totals=summary.get("totals", {}),
        failures=summary.get("failures", []),
        created_at=run.created_at,
        finished_at=run.finished_at,
    )
