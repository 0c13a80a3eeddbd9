"""Issued → paid | void: an issued invoice never changes; a void issues a credit note.

On PostgreSQL the database itself refuses changes to an issued invoice, its lines, credit
notes and the hours ledger (triggers of migration 0004).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from invoices.issuing import InvoiceImmutable, IssuerDetails, void_invoice
from invoices.models import CreditNote, Invoice
from invoices.payments.models import PaymentOutbox
from ledger.errors import Conflict
from tests.invoices.billing.helpers import (
    Headers,
    Json,
    add_adjustment,
    amounts,
    create_contract,
    create_customer,
    invoice_number,
    only_invoice,
    post_work,
    run_billing,
)

ISSUER = IssuerDetails(name="Hourglass Services GmbH")


def _issued(client: TestClient, finance: Headers, **customer: object) -> tuple[int, Json]:
    """A January invoice with a fee, overage and tax: 2,000.00 + 110.00, 19 % tax."""
    customer_row = create_customer(client, finance, tax_rate_percent="19", **customer)
    contract = create_contract(client, finance, customer=customer_row)
    post_work(client, finance, contract, "2026-01-05", 21 * 60)
    run_billing(client, finance, "2026-01")
    return contract, only_invoice(client, finance, contract, "2026-01")


def test_issued_invoice_has_number_dates_and_stored_pdf(
    client: TestClient, finance: Headers
) -> None:
    _, invoice = _issued(client, finance, payment_terms_days=14)
    assert invoice["status"] == "issued"
    assert invoice["number"] == invoice_number(1)
    issue_date = date.fromisoformat(invoice["issue_date"])
    assert date.fromisoformat(invoice["due_date"]) == issue_date + timedelta(days=14)
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (
        "2110.00",
        "400.90",
        "2510.90",
    )
    pdf = client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == invoice["pdf_sha256"]
    assert pdf.headers["etag"] == f'"{invoice["pdf_sha256"]}"'
    assert pdf.content.startswith(b"%PDF")
    again = client.get(
        f"/v1/invoices/{invoice['id']}/pdf",
        headers={**finance, "If-None-Match": pdf.headers["etag"]},
    )
    assert again.status_code == 304


def test_void_issues_a_credit_note_that_mirrors_the_invoice(
    client: TestClient, finance: Headers
) -> None:
    _, invoice = _issued(client, finance)
    response = client.post(
        f"/v1/invoices/{invoice['id']}/void", json={"reason": "wrong rate"}, headers=finance
    )
    assert response.status_code == 201, response.text
    note = response.json()
    assert note["number"] == invoice_number(1, prefix="CN-")
    assert note["invoice_id"] == invoice["id"]
    assert note["invoice_number"] == invoice["number"]
    assert note["reason"] == "wrong rate"
    assert [(line["kind"], line["amount"]) for line in note["lines"]] == [
        ("fee", "-2000.00"),
        ("overage", "-110.00"),
    ]
    assert (note["subtotal"], note["tax"], note["total"]) == ("-2110.00", "-400.90", "-2510.90")

    voided = client.get(f"/v1/invoices/{invoice['id']}", headers=finance).json()
    assert voided["status"] == "void"
    assert voided["credit_note_id"] == note["id"]
    assert voided["voided_at"] is not None
    # Everything issued stays as it was.
    for field in ("number", "lines", "subtotal", "tax", "total", "pdf_sha256", "issue_date"):
        assert voided[field] == invoice[field], field

    read = client.get(f"/v1/credit-notes/{note['id']}", headers=finance)
    assert read.status_code == 200 and read.json() == note
    pdf = client.get(f"/v1/credit-notes/{note['id']}/pdf", headers=finance)
    assert pdf.status_code == 200
    assert hashlib.sha256(pdf.content).hexdigest() == note["pdf_sha256"]
    assert client.get("/v1/credit-notes/999999", headers=finance).status_code == 404


def test_credit_notes_have_their_own_sequence(client: TestClient, finance: Headers) -> None:
    contracts = [create_contract(client, finance) for _ in range(3)]
    run_billing(client, finance, "2026-01")
    invoices = [only_invoice(client, finance, c, "2026-01") for c in contracts]
    assert sorted(i["number"] for i in invoices) == [invoice_number(n) for n in (1, 2, 3)]
    notes = [
        client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance).json()["number"]
        for invoice in invoices[1:]
    ]
    assert notes == [invoice_number(1, prefix="CN-"), invoice_number(2, prefix="CN-")]
    # Invoice numbering goes on where it stopped.
    run_billing(client, finance, "2026-02")
    february = sorted(only_invoice(client, finance, c, "2026-02")["number"] for c in contracts)
    assert february == [invoice_number(n) for n in (4, 5, 6)]


def test_void_twice_or_after_payment_is_refused(
    client: TestClient, finance: Headers, session: Session
) -> None:
    _, first = _issued(client, finance)
    _, second = _issued(client, finance)
    assert client.post(f"/v1/invoices/{first['id']}/void", headers=finance).status_code == 201
    twice = client.post(f"/v1/invoices/{first['id']}/void", headers=finance)
    assert twice.status_code == 409, twice.text
    assert "void" in twice.json()["detail"]

    session.execute(
        sa.update(Invoice)
        .where(Invoice.id == second["id"])  # type: ignore[arg-type]
        .values(status="paid", payment_status="succeeded")
    )
    session.flush()
    paid = client.post(f"/v1/invoices/{second['id']}/void", headers=finance)
    assert paid.status_code == 409, paid.text
    assert "paid" in paid.json()["detail"]
    assert client.get(f"/v1/invoices/{second['id']}", headers=finance).json()["status"] == "paid"
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditNote)) == 1
    assert client.post("/v1/invoices/999999/void", headers=finance).status_code == 404


def test_void_invoice_service_refuses_void_and_paid(
    client: TestClient, finance: Headers, session: Session
) -> None:
    _, first = _issued(client, finance)
    _, second = _issued(client, finance)
    note = void_invoice(session, first["id"], issuer=ISSUER, reason="duplicate")
    assert note.total_minor == -251090
    with pytest.raises(InvoiceImmutable) as refused:
        void_invoice(session, first["id"], issuer=ISSUER, reason="again")
    assert isinstance(refused.value, Conflict)  # → 409

    invoice = session.get(Invoice, second["id"])
    assert invoice is not None
    invoice.status = "paid"
    session.flush()
    with pytest.raises(InvoiceImmutable):
        void_invoice(session, second["id"], issuer=ISSUER, reason="too late")


def test_void_cancels_pending_payment_collection(
    client: TestClient, finance: Headers, session: Session
) -> None:
    _, invoice = _issued(client, finance)
    outbox = session.scalar(
        sa.select(PaymentOutbox).where(PaymentOutbox.invoice_id == invoice["id"])
    )  # type: ignore[arg-type]
    assert outbox is not None and outbox.state == "pending"
    assert client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance).status_code == 201
    session.refresh(outbox)
    assert outbox.state == "cancelled"


def test_void_needs_finance(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
) -> None:
    contract, invoice = _issued(client, finance)
    own = customer_headers(invoice["customer_id"])
    for headers in (support, own):
        response = client.post(f"/v1/invoices/{invoice['id']}/void", headers=headers)
        assert response.status_code == 403, response.text
    assert only_invoice(client, finance, contract, "2026-01")["status"] == "issued"


def test_voiding_an_invoice_gives_back_the_credit_it_consumed(
    client: TestClient, finance: Headers
) -> None:
    """January: 2,000.00 fee − 5,000.00 goodwill → 3,000.00 credit carried. February takes
    2,000.00 of it. Voiding February cancels its fee *and* its use of the credit, so the
    whole 3,000.00 is owed again: March should be 0.00 with 1,000.00 still carried."""
    contract = create_contract(client, finance)
    add_adjustment(client, finance, contract, "-5000.00", "Goodwill")
    run_billing(client, finance, "2026-02")
    february = only_invoice(client, finance, contract, "2026-02")
    assert amounts(february) == [("fee", "2000.00"), ("credit_balance", "-2000.00")]
    assert client.post(f"/v1/invoices/{february['id']}/void", headers=finance).status_code == 201
    run_billing(client, finance, "2026-03")
    march = only_invoice(client, finance, contract, "2026-03")
    assert amounts(march) == [("fee", "2000.00"), ("credit_balance", "-2000.00")]
    assert march["total"] == "0.00"


def test_voiding_an_invoice_cancels_the_credit_it_carried_forward(
    client: TestClient, finance: Headers
) -> None:
    contract = create_contract(client, finance)
    add_adjustment(client, finance, contract, "-5000.00", "Goodwill entered by mistake")
    run_billing(client, finance, "2026-01")
    january = only_invoice(client, finance, contract, "2026-01")
    note = client.post(f"/v1/invoices/{january['id']}/void", headers=finance).json()
    # The credit note takes back the 3,000.00 the invoice carried forward …
    assert ("credit_balance", "-3000.00") in [(x["kind"], x["amount"]) for x in note["lines"]]
    run_billing(client, finance, "2026-02")
    # … so February must not take it again.
    assert amounts(only_invoice(client, finance, contract, "2026-02")) == [("fee", "2000.00")]


GUARDED_STATEMENTS = [
    ("UPDATE invoices SET total_minor = 1 WHERE id = :invoice", "immutable"),
    ("UPDATE invoices SET note = 'x' WHERE id = :invoice", "immutable"),
    ("UPDATE invoices SET status = 'draft' WHERE id = :invoice", "cannot go from"),
    ("DELETE FROM invoices WHERE id = :invoice", "cannot be deleted"),
    ("UPDATE invoice_lines SET amount_minor = 1 WHERE invoice_id = :invoice", "immutable"),
    ("DELETE FROM invoice_lines WHERE invoice_id = :invoice", "immutable"),
    (
        "INSERT INTO invoice_lines (invoice_id, position, kind, description, quantity, "
        "amount_minor) VALUES (:invoice, 99, 'adjustment', 'sneaked in', '1', 100)",
        "immutable",
    ),
    ("UPDATE ledger_entries SET minutes = minutes + 1", "append-only"),
    ("DELETE FROM ledger_entries", "append-only"),
    ("UPDATE credit_notes SET total_minor = 0", "append-only"),
    ("UPDATE credit_note_lines SET amount_minor = 0", "append-only"),
    ("UPDATE invoice_documents SET sha256 = 'forged'", "append-only"),
    ("DELETE FROM invoice_documents", "append-only"),
]


@pytest.mark.postgres_only
@pytest.mark.parametrize(("statement", "message"), GUARDED_STATEMENTS)
def test_database_refuses_changes_to_issued_documents(
    client: TestClient,
    finance: Headers,
    session: Session,
    db_kind: str,
    statement: str,
    message: str,
) -> None:
    _, invoice = _issued(client, finance)
    _, voided = _issued(client, finance)
    assert client.post(f"/v1/invoices/{voided['id']}/void", headers=finance).status_code == 201
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError) as refused:
        session.execute(sa.text(statement), {"invoice": invoice["id"]})
    savepoint.rollback()
    assert message in str(refused.value.orig)
    assert only_invoice(client, finance, invoice["contract_id"], "2026-01") == invoice


@pytest.mark.postgres_only
def test_database_allows_payment_and_void_transitions(
    client: TestClient, finance: Headers, session: Session, db_kind: str
) -> None:
    """What the guard lets through: payment fields and issued → paid."""
    _, invoice = _issued(client, finance)
    session.execute(
        sa.text(
            "UPDATE invoices SET payment_status = 'succeeded', status = 'paid', paid_at = now() "
            "WHERE id = :invoice"
        ),
        {"invoice": invoice["id"]},
    )
    session.flush()
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError) as refused:
        session.execute(
            sa.text("UPDATE invoices SET status = 'void' WHERE id = :invoice"),
            {"invoice": invoice["id"]},
        )
    savepoint.rollback()
    assert "cannot go from paid to void" in str(refused.value.orig)
