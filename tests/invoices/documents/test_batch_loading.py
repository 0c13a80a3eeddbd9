"""A batch's documents' data is read set-based (`documents_data`) in a fixed number of queries
and renders exactly the bytes of the single-invoice path (`document_data`, the same loader with
a list of one), over invoices with SLA credits, pools, a quarter, JPY, reverse charge, late
work, adjustments and carried credit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.billing import issuer_details
from app.settings import Settings
from invoices import documents
from invoices.models import Invoice, InvoiceLine
from ledger.errors import NotFound
from tests.invoices.billing.helpers import Headers, create_contract, post_work, run_billing
from tests.invoices.billing.test_chunk_loader import _scenario

ISSUER = issuer_details(Settings(database_url="unused-in-tests"))


@contextmanager
def _selects(connection: sa.Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(connection, "before_cursor_execute", count)


def _issued(session: Session) -> list[int]:
    return [
        int(i)
        for i in session.scalars(
            select(col(Invoice.id)).where(col(Invoice.status) != "draft").order_by(col(Invoice.id))
        )
    ]


def _bytes(data: documents.DocumentData) -> dict[str, bytes]:
    return {name: r.content for name, r in documents.build_documents(data).items()}


def test_a_batch_renders_the_bytes_of_each_invoice_alone(
    client: TestClient, finance: Headers, session: Session
) -> None:
    _scenario(client, finance)
    pooled = create_contract(client, finance, start_date="2026-03-01")
    response = client.post(
        f"/v1/contracts/{pooled}/pools", json={"first_month": "2026-03"}, headers=finance
    )
    assert response.status_code == 201, response.text
    post_work(client, finance, pooled, "2026-03-05", 600)
    run_billing(client, finance, "2026-03")
    ids = _issued(session)
    kinds = set(
        session.scalars(select(col(InvoiceLine.kind)).where(col(InvoiceLine.invoice_id).in_(ids)))
    )
    for kind in ("overage", "late_work", "service_credit", "adjustment", "credit_balance"):
        assert kind in kinds, kind
    session.expunge_all()
    batch = documents.documents_data(session, list(reversed(ids)), issuer=ISSUER)
    assert sorted(batch) == ids
    rendered = march = 0
    for invoice_id in ids:
        session.expunge_all()
        alone = documents.document_data(session, invoice_id, issuer=ISSUER)
        together = batch[invoice_id]
        assert not isinstance(together, Exception), together
        assert together == alone
        assert _bytes(together) == _bytes(alone)
        if together.pdf.period == "2026-03":  # rendered by the run, nothing changed since
            stored = documents.get_document(session, invoice_id=invoice_id, format="pdf")
            assert stored is not None and stored.content == _bytes(alone)["pdf"]
            march += 1
        rendered += 1
    # What the invoices show is varied: pools, quarters, JPY, reverse charge, SLA figures.
    shown = [batch[i] for i in ids]
    pdfs = [d.pdf for d in shown if not isinstance(d, Exception)]
    assert any(p.hours is not None and p.hours.pool for p in pdfs)
    assert any(p.currency == "JPY" for p in pdfs)
    assert any(p.reverse_charge for p in pdfs)
    assert any(p.statement for p in pdfs)
    assert any(p.sla is not None and p.sla.tickets for p in pdfs)
    assert any(p.sla is not None and any(c.credit_minor for c in p.sla.components) for p in pdfs)
    assert rendered == len(ids) >= 20 and march >= 9


def test_a_batchs_reads_do_not_grow_with_its_invoices(
    client: TestClient, finance: Headers, session: Session, connection: sa.Connection
) -> None:
    contracts = [create_contract(client, finance) for _ in range(6)]
    for n, contract in enumerate(contracts):
        post_work(client, finance, contract, "2026-01-05", 21 * 60 + n)
        post_work(client, finance, contract, "2026-01-06", 30)
    run_billing(client, finance, "2026-01")
    ids = _issued(session)
    counts = []
    for batch in (ids[:1], ids):
        session.expunge_all()
        with _selects(connection) as statements:
            loaded = documents.documents_data(session, batch, issuer=ISSUER)
        assert all(not isinstance(d, Exception) for d in loaded.values())
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 14


def test_an_invoice_that_cannot_be_loaded_fails_alone(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = create_contract(client, finance)
    post_work(client, finance, contract, "2026-01-05", 60)
    run_billing(client, finance, "2026-01")
    [invoice_id] = _issued(session)
    loaded = documents.documents_data(session, [invoice_id + 1000, invoice_id], issuer=ISSUER)
    assert isinstance(loaded[invoice_id + 1000], NotFound)
    assert isinstance(loaded[invoice_id], documents.DocumentData)
