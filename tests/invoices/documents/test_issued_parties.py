"""An issued invoice's (or credit note's) documents show the customer and the issuer as they were
when it was issued (SPEC "Invoices": an issued invoice is immutable), however late its documents
are rendered and with whatever issuer the rendering process has; a row issued before the parties
were stored renders from the live rows, as it always did."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import etree
from pypdf import PdfReader
from sqlalchemy.orm import Session
from sqlmodel import col

import invoices.documents
import invoices.parties
import invoices.runs.worker
from app.billing import issuer_details
from app.settings import Settings
from invoices import documents
from invoices.documents import REQUIRED_FORMATS
from invoices.issuer import IssuerDetails
from invoices.issuing import bill_period, void_invoice
from invoices.models import CreditNote, Invoice
from invoices.parties import snapshot
from ledger.base import utcnow
from ledger.customers.models import Customer
from ledger.periods import month_period
from tests import factories
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
OTHER = IssuerDetails(
    name="Other Issuer AG",
    address_lines=("Far Away Road 9", "99999 Elsewhere"),
    tax_id="DE811111113",
    email="billing@other-issuer.test",
    payment_instructions=("Pay the other issuer",),
    street="Far Away Road 9",
    city="Elsewhere",
    postal_code="99999",
    country="DE",
    iban="DE89370400440532013000",
    sample=True,
)
AS_ISSUED = {
    "address": ["Old Street 1", "10115 Berlin"],
    "street": "Old Street 1",
    "city": "Berlin",
    "postal_code": "10115",
    "vat_id": "DE136695976",
    "buyer_reference": "OLD-REF-1",
}
CHANGED = {
    "name": "Renamed Customer AG",
    "email": "renamed@customer.test",
    "address": ["New Road 2", "80331 Muenchen"],
    "street": "New Road 2",
    "city": "Muenchen",
    "postal_code": "80331",
    "vat_id": "DE811111113",
    "buyer_reference": "NEW-REF-2",
}
CII = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Document workers down: issuing commits, nothing renders the invoices' documents."""
    monkeypatch.setattr(invoices.runs.worker, "render_documents", lambda *a, **k: None)
    yield


def _issue(client: TestClient, finance: Headers) -> tuple[Json, Json]:
    customer = create_customer(client, finance, tax_rate_percent="19", **AS_ISSUED)
    contract = create_contract(client, finance, customer=customer)
    post_work(client, finance, contract, "2026-01-05", 21 * 60)
    run_billing(client, finance, "2026-01")
    return customer, only_invoice(client, finance, contract, "2026-01")


def _change(client: TestClient, finance: Headers, session: Session, customer: Json) -> None:
    response = client.patch(f"/v1/customers/{customer['id']}", json=CHANGED, headers=finance)
    assert response.status_code == 200, response.text
    assert response.json()["buyer_reference"] == CHANGED["buyer_reference"]
    session.expire_all()


def _built(data: documents.DocumentData) -> dict[str, bytes]:
    return {name: rendered.content for name, rendered in documents.build_documents(data).items()}


def _stored(session: Session, **owner: int) -> dict[str, bytes]:
    found = {}
    for name in REQUIRED_FORMATS:
        document = documents.get_document(session, format=name, **owner)
        assert document is not None, name
        found[name] = document.content
    return found


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def _cii(content: bytes) -> dict[str, list[str]]:
    tree = etree.fromstring(content)

    def texts(path: str) -> list[str]:
        return [str(found).strip() for found in tree.xpath(path, namespaces=CII)]

    return {
        "seller": texts("//ram:SellerTradeParty/ram:Name/text()"),
        "buyer": texts("//ram:BuyerTradeParty/ram:Name/text()"),
        "buyer_street": texts("//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:LineOne/text()"),
        "buyer_vat_id": texts("//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()"),
        "buyer_reference": texts("//ram:BuyerReference/text()"),
    }


def _shows_as_issued(stored: dict[str, bytes], customer: Json, issuer: IssuerDetails) -> None:
    text = _pdf_text(stored["pdf"])
    assert "Old Street 1" in text and customer["name"] in text and issuer.name in text
    assert "New Road 2" not in text and CHANGED["name"] not in text
    assert _cii(stored["cii"]) == {
        "seller": [issuer.name],
        "buyer": [customer["name"]],
        "buyer_street": ["Old Street 1"],
        "buyer_vat_id": ["DE136695976"],
        "buyer_reference": ["OLD-REF-1"],
    }


def test_an_invoice_rendered_after_its_customer_and_issuer_changed_shows_them_as_issued(
    client: TestClient, finance: Headers, session: Session, later: None
) -> None:
    customer, invoice = _issue(client, finance)
    assert invoice["pdf_sha256"] is None  # issued, its documents not rendered yet
    unchanged = _built(documents.document_data(session, invoice["id"], issuer=ISSUER))
    _change(client, finance, session, customer)
    documents.render_invoice_documents(session, invoice["id"], issuer=OTHER)
    stored = _stored(session, invoice_id=invoice["id"])
    assert stored == unchanged  # the very bytes of a rendering with nothing changed
    _shows_as_issued(stored, customer, ISSUER)
    assert "parties" not in client.get(f"/v1/invoices/{invoice['id']}", headers=finance).json()


def test_a_credit_note_rendered_after_its_customer_and_issuer_changed_shows_them_as_issued(
    client: TestClient, finance: Headers, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer, invoice = _issue(client, finance)
    render = documents.render_credit_note_documents
    with monkeypatch.context() as m:  # its documents left for later
        m.setattr(invoices.documents, "render_credit_note_documents", lambda *a, **k: None)
        response = client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance)
    assert response.status_code in (200, 201), response.text
    note = response.json()
    assert documents.credit_notes_without_documents(session) == [note["id"]]
    unchanged = _built(documents.credit_note_data(session, note["id"], issuer=ISSUER))
    _change(client, finance, session, customer)
    render(session, note["id"], issuer=OTHER)
    stored = _stored(session, credit_note_id=note["id"])
    assert stored == unchanged
    _shows_as_issued(stored, customer, ISSUER)


def test_a_row_issued_before_parties_were_stored_renders_from_the_live_rows(
    client: TestClient,
    finance: Headers,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    later: None,
) -> None:
    render = documents.render_credit_note_documents
    with monkeypatch.context() as m:  # issued as before migration 0013: no parties
        m.setattr(invoices.parties, "snapshot", lambda *a, **k: None)
        m.setattr(invoices.documents, "render_credit_note_documents", lambda *a, **k: None)
        customer, invoice = _issue(client, finance)
        note = client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance).json()
    for table, id_ in (("invoices", invoice["id"]), ("credit_notes", note["id"])):
        stored_null = session.scalar(
            sa.text(f"SELECT parties IS NULL FROM {table} WHERE id = {id_}")
        )
        assert stored_null, table  # SQL NULL, not JSON null
    _change(client, finance, session, customer)
    documents.render_invoice_documents(session, invoice["id"], issuer=OTHER)
    stored = _stored(session, invoice_id=invoice["id"])
    text = _pdf_text(stored["pdf"])
    assert "New Road 2" in text and CHANGED["name"] in text and OTHER.name in text
    assert "Old Street 1" not in text and ISSUER.name not in text
    assert _cii(stored["cii"]) == {
        "seller": [OTHER.name],
        "buyer": [CHANGED["name"]],
        "buyer_street": ["New Road 2"],
        "buyer_vat_id": ["DE811111113"],
        "buyer_reference": ["NEW-REF-2"],
    }
    render(session, note["id"], issuer=OTHER)
    credit_note = _cii(_stored(session, credit_note_id=note["id"])["cii"])
    assert credit_note["seller"] == [OTHER.name] and credit_note["buyer"] == [CHANGED["name"]]
    assert credit_note["buyer_reference"] == ["NEW-REF-2"]


def _expected(customer: Customer, issuer: IssuerDetails) -> dict[str, object]:
    return {
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "address_lines": list(AS_ISSUED["address"]),
            "street": "Old Street 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            "tax_id": customer.tax_id,
            "vat_id": "DE136695976",
            "email": customer.email,
            "buyer_reference": "OLD-REF-1",
        },
        "issuer": {
            "name": issuer.name,
            "address_lines": list(issuer.address_lines),
            "tax_id": issuer.tax_id,
            "email": issuer.email,
            "payment_instructions": list(issuer.payment_instructions),
            "street": issuer.street,
            "city": issuer.city,
            "postal_code": issuer.postal_code,
            "country": issuer.country,
            "phone": issuer.phone,
            "contact_name": issuer.contact_name,
            "iban": issuer.iban,
            "bic": issuer.bic,
            "sample": issuer.sample,
        },
    }


def _parties(session: Session, model: type[Invoice] | type[CreditNote], id_: int) -> object:
    """The stored column, read back from the database."""
    return session.execute(sa.select(col(model.parties)).where(col(model.id) == id_)).scalar_one()


def _bill_january(session: Session, *, issuer: IssuerDetails) -> tuple[Customer, Invoice]:
    """A customer with the details as issued, and its contract's January invoice, issued on the
    single-contract path (`bill_period`) by `issuer`."""
    customer = factories.create_customer(session, **AS_ISSUED)
    plan = factories.create_plan(session)
    contract = factories.create_contract(session, customer=customer, plan=plan)
    invoice = bill_period(
        session,
        contract=contract,
        plan=plan,
        customer=customer,
        period=month_period(date(2026, 1, 1)),
        issuer=issuer,
        now=utcnow(),
    )
    return customer, invoice


def test_issuing_one_contract_and_voiding_store_the_parties_as_plain_json(
    session: Session,
) -> None:
    """The single-contract path (an `Invoice` model, not a chunk's plain row) and a void store
    every field the documents use, the issuer's `sample` too."""
    customer, invoice = _bill_january(session, issuer=OTHER)
    assert invoice.id is not None and invoice.status == "issued"
    expected = _expected(customer, OTHER)
    assert snapshot(customer, OTHER) == expected
    assert invoice.parties == expected
    session.expire_all()
    assert _parties(session, Invoice, invoice.id) == expected
    note = void_invoice(session, invoice.id, issuer=ISSUER, reason="test")
    assert note.id is not None
    session.expire_all()
    assert _parties(session, CreditNote, note.id) == _expected(customer, ISSUER)


@pytest.mark.postgres_only
def test_an_issued_invoices_parties_cannot_change(session: Session) -> None:
    _, invoice = _bill_january(session, issuer=ISSUER)
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError, match="immutable"):
        session.execute(
            sa.update(Invoice).where(col(Invoice.id) == invoice.id).values(parties=None)
        )
    savepoint.rollback()
