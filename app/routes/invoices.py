"""Invoices and credit notes: list, read, PDF, void; manual adjustments for the next invoice."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.billing import issuer_details
from app.dependencies import Finance, FinanceOrCustomer, SessionDep
from app.pagination import Page, PageParams, make_page
from invoices import documents, queries
from invoices.issuing import void_invoice
from invoices.models import Adjustment
from invoices.schemas import (
    AdjustmentCreate,
    AdjustmentRead,
    CreditNoteRead,
    InvoiceRead,
    VoidRequest,
)
from ledger import money
from ledger.contracts.service import get_contract
from ledger.errors import InvalidInput, NotFound
from ledger.periods import parse_month

router = APIRouter(tags=["invoices"])


@router.get("/v1/invoices", response_model=Page[InvoiceRead])
def list_invoices(
    session: SessionDep,
    who: FinanceOrCustomer,
    page: PageParams = Depends(),
    customer_id: int | None = Query(None),
    contract_id: int | None = Query(None),
    period: str | None = Query(None, description="YYYY-MM"),
    status: Literal["issued", "paid", "void"] | None = Query(None),
    billing_run_id: int | None = Query(None, description="what one billing run issued"),
) -> Page[InvoiceRead]:
    if period is not None:
        try:
            parse_month(period)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="period") from exc
    visible = who.visible_customer
    if visible is not None:
        if customer_id is not None and customer_id != visible:
            return Page[InvoiceRead](items=[], next_cursor=None)
        customer_id = visible
    rows = queries.list_invoices(
        session,
        after_id=page.after_id,
        limit=page.limit + 1,
        customer_id=customer_id,
        period=period,
        status=status,
        contract_id=contract_id,
        billing_run_id=billing_run_id,
    )
    return make_page(rows, page, lambda i: queries.invoice_to_read(session, i), lambda i: i.id or 0)


@router.get("/v1/invoices/{invoice_id}", response_model=InvoiceRead)
def get_invoice(invoice_id: int, session: SessionDep, who: FinanceOrCustomer) -> InvoiceRead:
    invoice = queries.get_invoice(session, invoice_id, visible_to=who.visible_customer)
    return queries.invoice_to_read(session, invoice)


def _pdf_response(request: Request, content: bytes, sha256: str, filename: str) -> Response:
    """Served exactly as stored; the ETag is the stored SHA-256."""
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content=content, media_type="application/pdf", headers=headers)


@router.get("/v1/invoices/{invoice_id}/pdf", response_class=Response)
def get_invoice_pdf(
    invoice_id: int, request: Request, session: SessionDep, who: FinanceOrCustomer
) -> Response:
    invoice = queries.get_invoice(session, invoice_id, visible_to=who.visible_customer)
    stored = documents.get_document(session, invoice_id=invoice_id, format="pdf")
    if stored is None:
        raise NotFound(f"invoice {invoice_id} has no PDF yet")
    return _pdf_response(request, stored.content, stored.sha256, f"invoice-{invoice.number}.pdf")


EInvoiceFormat = Literal["cii", "xrechnung", "ubl"]
_FORMAT_QUERY = Query(
    "cii",
    description="cii (Factur-X, the XML embedded in the PDF), xrechnung (CII, German CIUS) "
    "or ubl (UBL 2.1, Peppol BIS Billing 3.0)",
)


def _xml_response(request: Request, stored: documents.Document, filename: str) -> Response:
    """Served exactly as stored, like the PDF; the ETag is the stored SHA-256."""
    etag = f'"{stored.sha256}"'
    headers = {
        "ETag": etag,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content=stored.content, media_type="application/xml", headers=headers)


@router.get("/v1/invoices/{invoice_id}/e-invoice", response_class=Response)
def get_invoice_einvoice(
    invoice_id: int,
    request: Request,
    session: SessionDep,
    who: FinanceOrCustomer,
    format: EInvoiceFormat = _FORMAT_QUERY,
) -> Response:
    """The invoice's EN 16931 e-invoice as stored at issue."""
    invoice = queries.get_invoice(session, invoice_id, visible_to=who.visible_customer)
    stored = documents.get_document(session, invoice_id=invoice_id, format=format)
    if stored is None:
        raise NotFound(f"invoice {invoice_id} has no {format} e-invoice yet")
    return _xml_response(request, stored, f"invoice-{invoice.number}-{format}.xml")


@router.post("/v1/invoices/{invoice_id}/void", status_code=201, response_model=CreditNoteRead)
def void(
    invoice_id: int,
    request: Request,
    _: Finance,
    session: SessionDep,
    body: VoidRequest | None = None,
) -> object:
    """Voids an issued invoice by issuing a credit note for its full amount."""
    note = void_invoice(
        session,
        invoice_id,
        issuer=issuer_details(request.app.state.settings),
        reason=body.reason if body else "",
    )
    return queries.credit_note_to_read(session, note)


@router.get("/v1/credit-notes/{credit_note_id}", response_model=CreditNoteRead)
def get_credit_note(
    credit_note_id: int, session: SessionDep, who: FinanceOrCustomer
) -> CreditNoteRead:
    note = queries.get_credit_note(session, credit_note_id, visible_to=who.visible_customer)
    return queries.credit_note_to_read(session, note)


@router.get("/v1/credit-notes/{credit_note_id}/pdf", response_class=Response)
def get_credit_note_pdf(
    credit_note_id: int, request: Request, session: SessionDep, who: FinanceOrCustomer
) -> Response:
    note = queries.get_credit_note(session, credit_note_id, visible_to=who.visible_customer)
    stored = documents.get_document(session, credit_note_id=credit_note_id, format="pdf")
    if stored is None:
        raise NotFound(f"credit note {credit_note_id} has no PDF yet")
    return _pdf_response(request, stored.content, stored.sha256, f"credit-note-{note.number}.pdf")


@router.get("/v1/credit-notes/{credit_note_id}/e-invoice", response_class=Response)
def get_credit_note_einvoice(
    credit_note_id: int,
    request: Request,
    session: SessionDep,
    who: FinanceOrCustomer,
    format: EInvoiceFormat = _FORMAT_QUERY,
) -> Response:
    """The credit note's EN 16931 e-invoice (type 381) as stored at issue."""
    note = queries.get_credit_note(session, credit_note_id, visible_to=who.visible_customer)
    stored = documents.get_document(session, credit_note_id=credit_note_id, format=format)
    if stored is None:
        raise NotFound(f"credit note {credit_note_id} has no {format} e-invoice yet")
    return _xml_response(request, stored, f"credit-note-{note.number}-{format}.xml")


@router.post(
    "/v1/contracts/{contract_id}/adjustments", status_code=201, response_model=AdjustmentRead
)
def add_adjustment(
    contract_id: int,
    body: AdjustmentCreate,
    _: Finance,
    session: SessionDep,
) -> object:
    """A manual amount (either sign) for the contract's next invoice."""
    contract = get_contract(session, contract_id)
    try:
        amount = money.to_minor(body.amount, contract.currency)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="amount") from exc
    if amount == 0:
        raise InvalidInput("an adjustment cannot be zero", field="amount")
    adjustment = Adjustment(
        contract_id=contract_id, amount_minor=amount, description=body.description
    )
    session.add(adjustment)
    session.flush()
    assert adjustment.id is not None
    return AdjustmentRead(
        id=adjustment.id,
        contract_id=contract_id,
        amount=money.format_amount(amount, contract.currency),
        description=adjustment.description,
        invoice_id=None,
        created_at=adjustment.created_at,
    )
