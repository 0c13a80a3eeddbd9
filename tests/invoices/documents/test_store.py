"""The documents seam: documents are stored once per format, rendered idempotently from the
issued rows, and what is missing can be listed; migration 0007 moves stored PDFs both ways."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import invoices.documents
import invoices.runs.worker
from app.auth.tokens import Role
from app.billing import issuer_details
from app.db import make_engine, session_factory, unit_of_work
from app.main import create_app
from app.migrations import downgrade, upgrade
from app.settings import Settings
from invoices import documents
from ledger.base import utcnow
from tests.factories import bearer
from tests.invoices.billing.helpers import (
    Headers,
    Json,
    create_contract,
    create_customer,
    only_invoice,
    post_work,
    run_billing,
)

ISSUER = issuer_details(Settings(database_url="unused-in-tests"))  # the app's, as in tests


def _issue(client: TestClient, finance: Headers) -> Json:
    customer = create_customer(client, finance, tax_rate_percent="19")
    contract = create_contract(client, finance, customer=customer)
    post_work(client, finance, contract, "2026-01-05", 21 * 60)
    run_billing(client, finance, "2026-01")
    return only_invoice(client, finance, contract, "2026-01")


def _count(session: Session) -> int:
    return int(session.scalar(sa.text("SELECT count(*) FROM invoice_documents")) or 0)


def test_issuing_stores_the_pdf_as_a_document(
    client: TestClient, finance: Headers, session: Session
) -> None:
    invoice = _issue(client, finance)
    stored = documents.get_document(session, invoice_id=invoice["id"], format="pdf")
    assert stored is not None and stored.content.startswith(b"%PDF-")
    assert stored.sha256 == hashlib.sha256(stored.content).hexdigest() == invoice["pdf_sha256"]
    assert stored.template_version == invoice["template_version"]
    assert documents.invoices_without_documents(session) == []
    served = client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance)
    assert served.content == stored.content


def test_rendering_again_stores_nothing_twice_and_the_same_bytes(
    client: TestClient, finance: Headers, session: Session
) -> None:
    invoice = _issue(client, finance)
    before = _count(session)
    documents.render_invoice_documents(session, invoice["id"], issuer=ISSUER)
    assert _count(session) == before
    data = documents.document_data(session, invoice["id"], issuer=ISSUER)
    stored = documents.get_document(session, invoice_id=invoice["id"], format="pdf")
    assert stored is not None
    assert documents.build_documents(data)["pdf"].content == stored.content


def test_a_racing_worker_inserting_the_same_format_is_skipped(
    client: TestClient, finance: Headers, session: Session
) -> None:
    """What the second of two workers does once the first committed: insert, conflict, skip."""
    invoice = _issue(client, finance)
    before = _count(session)
    row: dict[str, Any] = {
        "invoice_id": invoice["id"],
        "credit_note_id": None,
        "format": "pdf",
        "content": b"%PDF-other",
        "sha256": "0" * 64,
        "template_version": "x",
        "created_at": utcnow(),
    }
    documents.insert_rows(session, [row])
    assert _count(session) == before
    stored = documents.get_document(session, invoice_id=invoice["id"], format="pdf")
    assert stored is not None and stored.sha256 == invoice["pdf_sha256"]


def test_invoices_without_documents_lists_what_is_left_to_render(
    client: TestClient, finance: Headers, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With rendering taken out of issuing (as document jobs will), the invoice is listed until
    its documents are stored; its PDF route answers 404 meanwhile."""
    monkeypatch.setattr(invoices.runs.worker, "render_documents", lambda *a, **k: None)
    invoice = _issue(client, finance)
    assert invoice["pdf_sha256"] is None
    assert documents.invoices_without_documents(session) == [invoice["id"]]
    assert documents.invoices_without_documents(session, billing_run_id=-1) == []
    assert client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance).status_code == 404
    monkeypatch.undo()
    documents.render_invoice_documents(session, invoice["id"], issuer=ISSUER)
    assert documents.invoices_without_documents(session) == []
    assert client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance).status_code == 200


def test_credit_notes_get_their_documents(
    client: TestClient, finance: Headers, session: Session
) -> None:
    invoice = _issue(client, finance)
    note = client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance).json()
    stored = documents.get_document(session, credit_note_id=note["id"], format="pdf")
    assert stored is not None and stored.sha256 == note["pdf_sha256"]
    assert documents.credit_notes_without_documents(session) == []


def _stored(engine: sa.Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as connection:
        return {
            tuple(row)
            for row in connection.execute(
                sa.text(
                    "SELECT invoice_id, credit_note_id, format, sha256, template_version "
                    "FROM invoice_documents"
                )
            )
        }


def test_migration_moves_stored_pdfs_out_and_back(fresh_database: str) -> None:
    """With real rows (and SQLite's foreign keys on), down to 0005 and up again."""
    engine = make_engine(fresh_database, poolclass=sa.NullPool)
    try:
        with unit_of_work(session_factory(engine)) as s:
            finance = bearer(s, Role.FINANCE)
        with TestClient(create_app(Settings(database_url=fresh_database), engine=engine)) as c:
            voided = _issue(c, finance)
            assert c.post(f"/v1/invoices/{voided['id']}/void", headers=finance).status_code == 201
            kept = _issue(c, finance)
        before = _stored(engine)
        assert {(row[0], row[1]) for row in before} >= {(kept["id"], None), (voided["id"], None)}
        assert len(before) == 3 * 4  # two invoices and a credit note, four formats each
        pdfs = {row for row in before if row[2] == "pdf"}

        downgrade(engine, "0005")
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT pdf, pdf_sha256 FROM invoices")).all()
            notes = connection.execute(sa.text("SELECT pdf, pdf_sha256 FROM credit_notes")).all()
        assert len(rows) == 2 and len(notes) == 1
        for pdf, sha in [*rows, *notes]:
            assert hashlib.sha256(bytes(pdf)).hexdigest() == sha

        upgrade(engine, "head")
        assert _stored(engine) == pdfs  # the e-invoices had no place before 0007
    finally:
        engine.dispose()
