"""Customers' e-invoice data: VAT ids checked by country, reverse charge needs one, XRechnung
needs the buyer's city and postal code; refused requests write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import customer_payload

Headers = dict[str, str]


def _post(client: TestClient, finance: Headers, **fields: Any) -> Any:
    return client.post("/v1/customers", json=customer_payload(**fields), headers=finance)


def test_fields_are_stored_and_read_back(client: TestClient, finance: Headers) -> None:
    response = _post(
        client,
        finance,
        vat_id="de 136 695 976",
        buyer_reference="04011000-12345-34",
        street="Unter den Linden 5",
        city="Berlin",
        postal_code="10117",
        e_invoice_format="xrechnung",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["vat_id"] == "DE136695976"  # compact form
    assert (body["buyer_reference"], body["street"], body["city"], body["postal_code"]) == (
        "04011000-12345-34",
        "Unter den Linden 5",
        "Berlin",
        "10117",
    )
    assert body["e_invoice_format"] == "xrechnung"
    read = client.get(f"/v1/customers/{body['id']}", headers=finance).json()
    assert read == body


def test_default_format_is_cii(client: TestClient, finance: Headers) -> None:
    body = _post(client, finance).json()
    assert body["e_invoice_format"] == "cii" and body["vat_id"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"vat_id": "DE123456789"}, "vat_id"),  # bad check digit
        ({"vat_id": "FR123"}, "vat_id"),
        ({"reverse_charge": True}, "vat_id"),
        ({"e_invoice_format": "xrechnung", "city": "Berlin"}, "postal_code"),
        ({"e_invoice_format": "xrechnung", "postal_code": "10117"}, "city"),
        ({"e_invoice_format": "pdf"}, "e_invoice_format"),
    ],
)
def test_refused_with_422(
    client: TestClient, finance: Headers, fields: dict[str, Any], field: str
) -> None:
    before = client.get("/v1/customers", headers=finance).json()["items"]
    response = _post(client, finance, **fields)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert client.get("/v1/customers", headers=finance).json()["items"] == before


def test_reverse_charge_with_a_vat_id_is_accepted(client: TestClient, finance: Headers) -> None:
    response = _post(client, finance, country="FR", reverse_charge=True, vat_id="40303265045")
    assert response.status_code == 201, response.text
    assert response.json()["vat_id"] == "FR40303265045"


def test_japanese_registration_number(client: TestClient, finance: Headers) -> None:
    body = _post(
        client,
        finance,
        name="株式会社サンプル",
        country="JP",
        timezone="Asia/Tokyo",
        holiday_region="JP",
        vat_id="T7000012050002",
    )
    assert body.status_code == 201, body.text
    assert body.json()["vat_id"] == "T7000012050002"
    assert _post(client, finance, country="JP", vat_id="T7000012050003").status_code == 422


def test_patch_checks_the_customer_as_it_would_become(client: TestClient, finance: Headers) -> None:
    customer = _post(client, finance).json()
    url = f"/v1/customers/{customer['id']}"
    refused = client.patch(url, json={"e_invoice_format": "xrechnung"}, headers=finance)
    assert refused.status_code == 422, refused.text
    assert client.patch(url, json={"reverse_charge": True}, headers=finance).status_code == 422
    assert client.get(url, headers=finance).json() == customer
    ok = client.patch(
        url,
        json={"e_invoice_format": "xrechnung", "city": "Berlin", "postal_code": "10117"},
        headers=finance,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["e_invoice_format"] == "xrechnung"
    removing = client.patch(url, json={"city": None}, headers=finance)
    assert removing.status_code == 422, removing.text
