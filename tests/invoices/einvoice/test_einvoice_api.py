"""A German, a French and a Japanese customer's invoices, and a credit note, as e-invoices
through the API: every document passes the XML Schema, the EN 16931 Schematron and (for
XRechnung) the German rules, and says what the invoice says. Access as for PDFs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.invoices.billing.helpers import (
    Headers,
    Json,
    add_adjustment,
    create_contract,
    create_customer,
    create_plan,
    only_invoice,
    post_work,
    run_billing,
)
from tests.invoices.einvoice.readback import figures
from tests.support.einvoice_validation import Validators

FORMATS = ("cii", "xrechnung", "ubl")


@dataclass(frozen=True)
class Story:
    name: str
    customer: dict[str, Any]
    plan: dict[str, Any]
    work_minutes: int
    adjustment: str | None
    category: str


STORIES = [
    Story(
        "german",
        {
            "name": "Müller & Söhne GmbH",
            "tax_rate_percent": "19",
            "vat_id": "DE136695976",
            "buyer_reference": "04011000-12345-34",
            "street": "Unter den Linden 5",
            "city": "Berlin",
            "postal_code": "10117",
            "e_invoice_format": "xrechnung",
        },
        {},
        21 * 60 + 10,  # 21 h 15 after rounding: 1 h 15 overage
        "-33.33",
        "S",
    ),
    Story(
        "french",
        {
            "name": "Société Générale de Support SARL",
            "country": "FR",
            "timezone": "Europe/Paris",
            "holiday_region": "FR",
            "tax_rate_percent": "20",
            "reverse_charge": True,
            "vat_id": "FR40303265045",
            "street": "12 rue de Rivoli",
            "city": "Paris",
            "postal_code": "75004",
        },
        {},
        20 * 60,
        None,
        "AE",
    ),
    Story(
        "japanese",
        {
            "name": "株式会社サンプル商事",
            "country": "JP",
            "timezone": "Asia/Tokyo",
            "holiday_region": "JP",
            "tax_rate_percent": "10",
            "street": "丸の内1-1-1",
            "city": "東京都千代田区",
            "postal_code": "100-0005",
            "e_invoice_format": "ubl",
        },
        {"currency": "JPY", "fee": "1500005", "overage_rate": "15000"},
        25 * 60 + 5,
        None,
        "S",
    ),
]


def _issue(client: TestClient, finance: Headers, story: Story) -> tuple[Json, Json]:
    customer = create_customer(client, finance, **story.customer)
    plan = create_plan(client, finance, **story.plan)
    contract = create_contract(client, finance, plan=plan, customer=customer)
    post_work(client, finance, contract, "2026-01-05", story.work_minutes)
    if story.adjustment:
        add_adjustment(client, finance, contract, story.adjustment, "Goodwill")
    run_billing(client, finance, "2026-01")
    return customer, only_invoice(client, finance, contract, "2026-01")


def _get(client: TestClient, headers: Headers, url: str) -> bytes:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert "filename=" in response.headers["content-disposition"]
    return response.content


def _assert_says(document: Json, xml: bytes, fmt: str, *, type_code: str, positive: bool) -> None:
    sign = -1 if not positive else 1

    def amount(text: str) -> str:
        value = text if sign == 1 else (text[1:] if text.startswith("-") else f"-{text}")
        return value.lstrip("-") if Decimal(value) == 0 else value

    read = figures(fmt, xml)
    assert read.number == document["number"] and read.type_code == type_code
    assert read.currency == document["currency"]
    lines = [amount(line["amount"]) for line in document["lines"]]
    if Decimal(read.prepaid):
        credits = [
            a
            for a, line in zip(lines, document["lines"], strict=True)
            if line["kind"] == "credit_balance" and a.startswith("-")
        ]
        lines = [a for a in lines if a not in credits]
    assert list(read.line_amounts) == lines
    assert read.tax == amount(document["tax"])
    assert read.payable == amount(document["total"])
    if not Decimal(read.prepaid):
        assert read.tax_basis == amount(document["subtotal"])
        assert read.grand_total == amount(document["total"])


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.name)
def test_invoice_and_credit_note_pass_every_rule_and_say_what_the_invoice_says(
    client: TestClient, finance: Headers, validators: Validators, story: Story
) -> None:
    customer, invoice = _issue(client, finance, story)
    for fmt in FORMATS:
        xml = _get(client, finance, f"/v1/invoices/{invoice['id']}/e-invoice?format={fmt}")
        assert validators.errors(fmt, xml) == [], (story.name, fmt)
        _assert_says(invoice, xml, fmt, type_code="380", positive=True)
        read = figures(fmt, xml)
        assert read.vat_category == story.category
        expected_reference = story.customer.get("buyer_reference") or str(customer["id"])
        assert read.buyer_reference == expected_reference
    default = _get(client, finance, f"/v1/invoices/{invoice['id']}/e-invoice")
    assert default == _get(client, finance, f"/v1/invoices/{invoice['id']}/e-invoice?format=cii")

    note = client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance).json()
    for fmt in FORMATS:
        xml = _get(client, finance, f"/v1/credit-notes/{note['id']}/e-invoice?format={fmt}")
        assert validators.errors(fmt, xml) == [], (story.name, fmt, "credit note")
        # EN 16931: a credit note's amounts are positive, the credited invoice's own.
        _assert_says(note, xml, fmt, type_code="381", positive=False)
        assert figures(fmt, xml).preceding_invoice == invoice["number"]


def test_served_as_stored_with_an_etag(client: TestClient, finance: Headers) -> None:
    _, invoice = _issue(client, finance, STORIES[0])
    url = f"/v1/invoices/{invoice['id']}/e-invoice?format=xrechnung"
    first = client.get(url, headers=finance)
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(first.content).hexdigest()}"'
    assert client.get(url, headers=finance).content == first.content
    assert client.get(url, headers={**finance, "If-None-Match": etag}).status_code == 304


def test_access_is_as_for_pdfs(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
) -> None:
    customer, invoice = _issue(client, finance, STORIES[0])
    other, _ = _issue(client, finance, STORIES[1])
    url = f"/v1/invoices/{invoice['id']}/e-invoice?format=ubl"
    pdf_url = f"/v1/invoices/{invoice['id']}/pdf"
    assert client.get(url, headers=customer_headers(customer["id"])).status_code == 200
    assert client.get(url, headers=customer_headers(other["id"])).status_code == 404
    assert (
        client.get(url, headers=support).status_code
        == client.get(pdf_url, headers=support).status_code
        == 403
    )
    assert client.get(url.replace("ubl", "pdf"), headers=finance).status_code == 422
    assert client.get("/v1/invoices/999999/e-invoice", headers=finance).status_code == 404
    note = client.post(f"/v1/invoices/{invoice['id']}/void", headers=finance).json()
    note_url = f"/v1/credit-notes/{note['id']}/e-invoice"
    assert client.get(note_url, headers=customer_headers(customer["id"])).status_code == 200
    assert client.get(note_url, headers=customer_headers(other["id"])).status_code == 404
