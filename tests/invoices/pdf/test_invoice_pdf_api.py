"""Downloading invoice and credit-note PDFs: who may, what comes back, and that it never changes.

The PDF is rendered once, at issue, and stored with its SHA-256 (SPEC "Invoices"); the routes
serve those bytes, with the hash as ETag. A customer sees only its own documents: what is not
theirs is 404, not 403 (SPEC "Security").
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pdfplumber
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

import invoices.pdf
import invoices.pdf.render
from tests.factories import billing_run, customer_payload, plan_payload

Headers = dict[str, str]


@dataclass(frozen=True)
class Billed:
    invoice: dict[str, Any]
    customer_id: int
    other_customer_id: int
    contract_id: int


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _contract(client: TestClient, finance: Headers, plan_code: str, name: str) -> tuple[int, int]:
    customer = _created(
        client.post("/v1/customers", json=customer_payload(name=name), headers=finance)
    )
    body = {
        "customer_id": customer["id"],
        "plan_code": plan_code,
        "start_date": "2026-01-01",
        "committed_months": 12,
    }
    contract = _created(client.post("/v1/contracts", json=body, headers=finance))
    return int(customer["id"]), int(contract["id"])


def _bill(client: TestClient, finance: Headers, period: str) -> None:
    run = billing_run(client, finance, period)
    assert run["status"] == "completed" and not run["failures"], run


@pytest.fixture
def billed(client: TestClient, finance: Headers) -> Billed:
    """SPEC example 1's January invoice for one customer; another customer with its own."""
    plan = _created(client.post("/v1/plans", json=plan_payload(), headers=finance))["code"]
    customer_id, contract_id = _contract(client, finance, plan, "Müller & Söhne GmbH")
    other_customer_id, _ = _contract(client, finance, plan, "Łódź Sp. z o.o.")
    work = [
        ("2026-01-05", 480, "HD-1"),
        ("2026-01-12", 540, "HD-2"),
        ("2026-01-20", 290, "HD-3"),
    ]
    entries = [
        {"contract_id": contract_id, "worked_on": day, "minutes": m, "level": 2, "ticket_ref": t}
        for day, m, t in work
    ]
    _created(client.post("/v1/work-entries/batch", json={"entries": entries}, headers=finance))
    _bill(client, finance, "2026-01")
    listed = client.get(f"/v1/invoices?contract_id={contract_id}", headers=finance).json()
    [invoice] = listed["items"]
    assert invoice["status"] == "issued" and invoice["total"] == "2020.00", invoice
    return Billed(invoice, customer_id, other_customer_id, contract_id)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def first_page(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return document.pages[0].extract_text() or ""


def assert_pdf_response(response: Any, *, sha: str, filename_part: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert filename_part in disposition and disposition.endswith('.pdf"'), disposition
    assert response.headers["etag"] == f'"{sha}"'
    assert sha256(response.content) == sha
    assert response.content.startswith(b"%PDF-")


# --- invoices -----------------------------------------------------------------------------------


def test_finance_downloads_the_stored_invoice_pdf(
    client: TestClient, finance: Headers, billed: Billed
) -> None:
    invoice_id = billed.invoice["id"]
    read = client.get(f"/v1/invoices/{invoice_id}", headers=finance).json()
    url = f"/v1/invoices/{invoice_id}/pdf"

    response = client.get(url, headers=finance)

    assert_pdf_response(response, sha=read["pdf_sha256"], filename_part=read["number"])
    assert f'filename="invoice-{read["number"]}.pdf"' in response.headers["content-disposition"]
    assert f"Invoice number {read['number']}" in first_page(response.content)
    assert read["template_version"] == invoices.pdf.TEMPLATE_VERSION


def test_if_none_match_with_the_etag_is_not_modified(
    client: TestClient, finance: Headers, billed: Billed
) -> None:
    url = f"/v1/invoices/{billed.invoice['id']}/pdf"
    etag = client.get(url, headers=finance).headers["etag"]

    cached = client.get(url, headers={**finance, "If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag

    stale = client.get(url, headers={**finance, "If-None-Match": '"0000"'})
    assert stale.status_code == 200
    assert sha256(stale.content) == billed.invoice["pdf_sha256"]


def test_the_customer_gets_the_same_bytes_and_nobody_else_gets_any(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
    billed: Billed,
) -> None:
    url = f"/v1/invoices/{billed.invoice['id']}/pdf"
    as_finance = client.get(url, headers=finance)

    own = client.get(url, headers=customer_headers(billed.customer_id))
    assert_pdf_response(
        own, sha=billed.invoice["pdf_sha256"], filename_part=billed.invoice["number"]
    )
    assert own.content == as_finance.content

    assert client.get(url, headers=customer_headers(billed.other_customer_id)).status_code == 404
    assert client.get(url, headers=support).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert client.get("/v1/invoices/987654/pdf", headers=finance).status_code == 404
    unknown = client.get("/v1/invoices/987654/pdf", headers=customer_headers(billed.customer_id))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")


# --- credit notes -------------------------------------------------------------------------------


def test_voiding_issues_a_credit_note_with_its_own_pdf(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
    billed: Billed,
) -> None:
    invoice_url = f"/v1/invoices/{billed.invoice['id']}/pdf"
    invoice_pdf = client.get(invoice_url, headers=finance).content
    note = _created(
        client.post(
            f"/v1/invoices/{billed.invoice['id']}/void",
            json={"reason": "wrong plan"},
            headers=finance,
        )
    )
    url = f"/v1/credit-notes/{note['id']}/pdf"

    response = client.get(url, headers=finance)

    assert_pdf_response(response, sha=note["pdf_sha256"], filename_part=note["number"])
    assert f'filename="credit-note-{note["number"]}.pdf"' in response.headers["content-disposition"]
    text = first_page(response.content)
    assert f"Credit note number {note['number']}" in text
    assert f"Credits invoice {billed.invoice['number']}" in text
    assert "Total -€2,020.00" in text
    cached = client.get(url, headers={**finance, "If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304

    own = client.get(url, headers=customer_headers(billed.customer_id))
    assert own.status_code == 200 and own.content == response.content
    assert client.get(url, headers=customer_headers(billed.other_customer_id)).status_code == 404
    assert client.get(url, headers=support).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get("/v1/credit-notes/987654/pdf", headers=finance).status_code == 404

    # The voided invoice keeps its PDF, byte for byte.
    voided = client.get(f"/v1/invoices/{billed.invoice['id']}", headers=finance).json()
    assert voided["status"] == "void" and voided["pdf_sha256"] == billed.invoice["pdf_sha256"]
    assert client.get(invoice_url, headers=finance).content == invoice_pdf


# --- served as stored ---------------------------------------------------------------------------


def test_a_template_change_never_touches_an_issued_pdf(
    client: TestClient, finance: Headers, billed: Billed, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice_id = billed.invoice["id"]
    url = f"/v1/invoices/{invoice_id}/pdf"
    before = client.get(url, headers=finance).content
    issued_with = billed.invoice["template_version"]

    monkeypatch.setattr(invoices.pdf.render, "TEMPLATE_VERSION", "test-next")
    monkeypatch.setattr(invoices.pdf, "TEMPLATE_VERSION", "test-next")
    # A new invoice is rendered by the new template...
    _bill(client, finance, "2026-02")
    february = client.get(
        f"/v1/invoices?contract_id={billed.contract_id}&period=2026-02", headers=finance
    ).json()["items"][0]
    assert february["template_version"] == "test-next"
    new_pdf = client.get(f"/v1/invoices/{february['id']}/pdf", headers=finance).content
    metadata = PdfReader(io.BytesIO(new_pdf)).metadata
    assert metadata is not None and metadata.creator == "Hourglass invoice template test-next"
    # ...and the old one is still what was issued.
    after = client.get(url, headers=finance)
    assert after.content == before
    assert after.headers["etag"] == f'"{billed.invoice["pdf_sha256"]}"'
    read = client.get(f"/v1/invoices/{invoice_id}", headers=finance).json()
    assert read["template_version"] == issued_with
    assert read["pdf_sha256"] == billed.invoice["pdf_sha256"]


def test_downloads_are_never_rendered(
    client: TestClient, finance: Headers, billed: Billed, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"/v1/invoices/{billed.invoice['id']}/pdf"
    stored = client.get(url, headers=finance).content

    def no_rendering(*_: Any, **__: Any) -> bytes:
        raise AssertionError("a download must not render")

    for module in (invoices.pdf, invoices.pdf.render):
        monkeypatch.setattr(module, "render_pdf", no_rendering)
    monkeypatch.setattr(invoices.pdf.render, "TEMPLATE_VERSION", "test-other")

    fetched = [client.get(url, headers=finance) for _ in range(25)]

    assert all(response.status_code == 200 for response in fetched)
    assert {response.content for response in fetched} == {stored}
    assert {response.headers["etag"] for response in fetched} == {
        f'"{billed.invoice["pdf_sha256"]}"'
    }
