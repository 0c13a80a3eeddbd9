"""Storing and reading the rendered documents; what is still to render.

Rendering is idempotent: only missing formats are inserted, and a row that another worker
inserted meanwhile is skipped by the unique constraint (ON CONFLICT DO NOTHING), so two racing
workers never store a format twice. Both produce the same bytes anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.documents.build import build_documents
from invoices.documents.data import DocumentData, credit_note_data, document_data
from invoices.documents.models import InvoiceDocument
from invoices.issuer import IssuerDetails
from invoices.models import CreditNote, Invoice
from ledger.base import utcnow

REQUIRED_FORMATS: tuple[str, ...] = ("pdf",)
"""The formats every issued invoice and credit note gets; the others are optional extras."""


def get_document(
    session: Session,
    *,
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
    format: str,
) -> InvoiceDocument | None:
    if (invoice_id is None) == (credit_note_id is None):
        raise ValueError("give exactly one of invoice_id and credit_note_id")
    owner = (
        col(InvoiceDocument.invoice_id) == invoice_id
        if invoice_id is not None
        else col(InvoiceDocument.credit_note_id) == credit_note_id
    )
    return session.scalar(
        select(InvoiceDocument).where(owner, col(InvoiceDocument.format) == format)
    )


def document_digest(
    session: Session,
    *,
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
    format: str = "pdf",
) -> tuple[str, str] | None:
    """(sha256, template_version) of a stored document, without loading its bytes."""
    owner = (
        col(InvoiceDocument.invoice_id) == invoice_id
        if invoice_id is not None
        else col(InvoiceDocument.credit_note_id) == credit_note_id
    )
    row = session.execute(
        select(col(InvoiceDocument.sha256), col(InvoiceDocument.template_version)).where(
            owner, col(InvoiceDocument.format) == format
        )
    ).first()
    return None if row is None else (row[0], row[1])


def _stored_formats(session: Session, data: DocumentData) -> set[str]:
    owner_column = (
        col(InvoiceDocument.invoice_id)
        if data.owner == "invoice"
        else col(InvoiceDocument.credit_note_id)
    )
    return set(
        session.scalars(select(col(InvoiceDocument.format)).where(owner_column == data.owner_id))
    )


def store_documents(session: Session, data: DocumentData) -> None:
    """Render what is missing for this invoice or credit note and insert it."""
    if set(REQUIRED_FORMATS) <= _stored_formats(session, data):
        return
    rows = [
        {
            "invoice_id": data.owner_id if data.owner == "invoice" else None,
            "credit_note_id": data.owner_id if data.owner == "credit_note" else None,
            "format": format,
            "content": rendered.content,
            "sha256": hashlib.sha256(rendered.content).hexdigest(),
            "template_version": rendered.template_version,
            "created_at": utcnow(),
        }
        for format, rendered in build_documents(data).items()
    ]
    insert_rows(session, rows)


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rendered documents, skipping any (owner, format) already stored."""
    if not rows:
        return
    table = InvoiceDocument.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: sa.Insert = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two engines are supported
        raise RuntimeError(f"unsupported database {dialect}")
    session.execute(statement, list(rows))
    session.flush()


def render_invoice_documents(session: Session, invoice_id: int, *, issuer: IssuerDetails) -> None:
    store_documents(session, document_data(session, invoice_id, issuer=issuer))


def render_credit_note_documents(
    session: Session, credit_note_id: int, *, issuer: IssuerDetails
) -> None:
    store_documents(session, credit_note_data(session, credit_note_id, issuer=issuer))


def _missing(owner_column: Any, owner_id: Any) -> sa.ColumnElement[bool]:
    """True while some required format of the owner is not stored."""
    stored = (
        select(sa.func.count(sa.distinct(col(InvoiceDocument.format))))
        .where(owner_column == owner_id, col(InvoiceDocument.format).in_(REQUIRED_FORMATS))
        .scalar_subquery()
    )
    return stored < len(REQUIRED_FORMATS)


def missing_documents_query() -> Any:
    """Ids of issued (or paid, or void) invoices that still miss a required document."""
    return (
        select(col(Invoice.id))
        .where(
            col(Invoice.status) != "draft",
            _missing(col(InvoiceDocument.invoice_id), col(Invoice.id)),
        )
        .order_by(col(Invoice.id))
    )


def missing_credit_note_documents_query() -> Any:
    return (
        select(col(CreditNote.id))
        .where(_missing(col(InvoiceDocument.credit_note_id), col(CreditNote.id)))
        .order_by(col(CreditNote.id))
    )


def invoices_without_documents(
    session: Session, *, billing_run_id: int | None = None, limit: int | None = None
) -> list[int]:
    """What still needs rendering (optionally of one billing run), oldest first."""
    query = missing_documents_query()
    if billing_run_id is not None:
        query = query.where(col(Invoice.billing_run_id) == billing_run_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def credit_notes_without_documents(session: Session, *, limit: int | None = None) -> list[int]:
    query = missing_credit_note_documents_query()
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
