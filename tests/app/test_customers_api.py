"""`/v1/customers`: create, read, list, change; country, time zone and holiday region checks."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.errors import PROBLEM_JSON
from ledger.customers.models import Customer
from tests.factories import create_customer, customer_payload

Headers = dict[str, str]


def count_customers(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Customer)) or 0


def assert_invalid(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == 422
    assert field in [error["field"] for error in body.get("errors", [])], body
    assert field in body["detail"]
    return body


def test_create_and_read_a_customer(client: TestClient, finance: Headers, session: Session) -> None:
    payload = customer_payload(
        name="Müller & Söhne GmbH",
        tax_rate_percent="19",
        reverse_charge=False,
        payment_terms_days=14,
        address=["Kastanienallee 12", "10435 Berlin", "Germany"],
        tax_id="DE123456789",
    )
    response = client.post("/v1/customers", json=payload, headers=finance)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Müller & Söhne GmbH"
    assert (created["country"], created["timezone"], created["holiday_region"]) == (
        "DE",
        "Europe/Berlin",
        "DE-BE",
    )
    assert created["tax_rate_percent"] == "19"
    assert created["payment_terms_days"] == 14
    assert created["address"] == ["Kastanienallee 12", "10435 Berlin", "Germany"]
    assert created["tax_id"] == "DE123456789"
    assert created["has_payment_method"] is False
    assert created["stripe_customer_id"] is None

    read = client.get(f"/v1/customers/{created['id']}", headers=finance)
    assert read.status_code == 200
    assert read.json() == created
    stored = session.get(Customer, created["id"])
    assert stored is not None and stored.email == payload["email"]


def test_defaults(client: TestClient, finance: Headers) -> None:
    created = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    assert created["tax_rate_percent"] == "0"
    assert created["reverse_charge"] is False
    assert created["payment_terms_days"] == 30  # SPEC: default payment terms
    assert created["address"] == []


def test_unknown_customer_is_404(client: TestClient, finance: Headers) -> None:
    response = client.get("/v1/customers/987654", headers=finance)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_list_customers_pages(client: TestClient, finance: Headers, session: Session) -> None:
    ids = [create_customer(session).id for _ in range(3)]
    first = client.get("/v1/customers", params={"limit": 2}, headers=finance).json()
    assert [c["id"] for c in first["items"]] == ids[:2]
    assert first["next_cursor"]
    second = client.get(
        "/v1/customers", params={"limit": 2, "cursor": first["next_cursor"]}, headers=finance
    ).json()
    assert [c["id"] for c in second["items"]] == ids[2:]
    assert second["next_cursor"] is None


def test_patch_changes_only_what_it_names(
    client: TestClient, finance: Headers, session: Session
) -> None:
    created = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    response = client.patch(
        f"/v1/customers/{created['id']}",
        json={"timezone": "America/Sao_Paulo", "holiday_region": "BR-SP", "payment_terms_days": 45},
        headers=finance,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["timezone"], changed["holiday_region"], changed["payment_terms_days"]) == (
        "America/Sao_Paulo",
        "BR-SP",
        45,
    )
    assert changed["name"] == created["name"]
    assert changed["email"] == created["email"]
    assert changed["updated_at"] >= created["updated_at"]
    assert client.get(f"/v1/customers/{created['id']}", headers=finance).json() == changed


def test_patch_unknown_customer_is_404(client: TestClient, finance: Headers) -> None:
    response = client.patch("/v1/customers/987654", json={"name": "x"}, headers=finance)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"holiday_region": "DE-ZZ"}, "holiday_region"),
        ({"country": "XX"}, "country"),
        ({"email": "nobody"}, "email"),
        ({"tax_rate_percent": "101"}, "tax_rate_percent"),
        ({"payment_terms_days": -1}, "payment_terms_days"),
        ({"name": None}, "name"),
        ({"timezone": None}, "timezone"),
        ({"holiday_region": None}, "holiday_region"),
        ({"stripe_customer_id": "cus_123"}, "stripe_customer_id"),  # not the caller's to set
    ],
)
def test_an_invalid_patch_is_refused_and_changes_nothing(
    client: TestClient, finance: Headers, change: dict[str, Any], field: str
) -> None:
    created = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    response = client.patch(f"/v1/customers/{created['id']}", json=change, headers=finance)
    assert_invalid(response, field)
    assert client.get(f"/v1/customers/{created['id']}", headers=finance).json() == created


INVALID_CUSTOMERS = [
    pytest.param({"country": "XX"}, "country", id="country-unknown"),
    pytest.param({"country": "DEU"}, "country", id="country-alpha-3"),
    pytest.param({"timezone": "Mars/Base"}, "timezone", id="timezone-unknown"),
    pytest.param({"timezone": "europe/berlin"}, "timezone", id="timezone-lowercase"),
    pytest.param({"timezone": "CEST"}, "timezone", id="timezone-abbreviation"),
    pytest.param({"timezone": "+02:00"}, "timezone", id="timezone-offset"),
    pytest.param({"timezone": ""}, "timezone", id="timezone-empty"),
    pytest.param({"holiday_region": "DE-ZZ"}, "holiday_region", id="region-unknown-subdivision"),
    pytest.param({"holiday_region": "ZZ"}, "holiday_region", id="region-unknown-country"),
    pytest.param({"holiday_region": ""}, "holiday_region", id="region-empty"),
    pytest.param({"tax_rate_percent": "101"}, "tax_rate_percent", id="tax-over-100"),
    pytest.param({"tax_rate_percent": "-1"}, "tax_rate_percent", id="tax-negative"),
    pytest.param({"payment_terms_days": -1}, "payment_terms_days", id="terms-negative"),
    pytest.param({"payment_terms_days": 366}, "payment_terms_days", id="terms-over-a-year"),
    pytest.param({"email": "billing.customer.example"}, "email", id="email-without-at"),
    pytest.param({"email": "billing@"}, "email", id="email-without-domain"),
    pytest.param({"email": "a b@example.com"}, "email", id="email-with-space"),
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"address": ["x" * 201]}, "address.0", id="address-line-too-long"),
    pytest.param({"vat": "DE1"}, "vat", id="unknown-field"),
]


@pytest.mark.parametrize(("overrides", "field"), INVALID_CUSTOMERS)
def test_invalid_customer_is_refused_naming_the_field_and_writes_nothing(
    client: TestClient, finance: Headers, session: Session, overrides: dict[str, Any], field: str
) -> None:
    before = count_customers(session)
    response = client.post("/v1/customers", json=customer_payload(**overrides), headers=finance)
    assert_invalid(response, field)
    assert count_customers(session) == before


def test_a_lowercase_country_is_refused_or_normalised(client: TestClient, finance: Headers) -> None:
    response = client.post("/v1/customers", json=customer_payload(country="de"), headers=finance)
    if response.status_code == 201:
        assert response.json()["country"] == "DE"
    else:
        assert_invalid(response, "country")


@pytest.mark.parametrize("field", ["name", "email", "country", "timezone", "holiday_region"])
def test_required_fields(client: TestClient, finance: Headers, field: str) -> None:
    payload = customer_payload()
    del payload[field]
    assert_invalid(client.post("/v1/customers", json=payload, headers=finance), field)


@pytest.mark.parametrize(
    ("country", "timezone", "region"),
    [
        ("DE", "Europe/Berlin", "DE-BE"),
        ("DE", "Europe/Berlin", "DE"),
        ("BR", "America/Sao_Paulo", "BR-SP"),
        ("US", "America/Los_Angeles", "US-CA"),
        ("JP", "Asia/Tokyo", "JP"),
        ("GB", "UTC", "GB"),
    ],
)
def test_real_regions_and_zones_are_accepted(
    client: TestClient, finance: Headers, country: str, timezone: str, region: str
) -> None:
    payload = customer_payload(country=country, timezone=timezone, holiday_region=region)
    response = client.post("/v1/customers", json=payload, headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["holiday_region"] == region
    assert response.json()["timezone"] == timezone


def test_a_holiday_region_is_stored_in_its_canonical_spelling(
    client: TestClient, finance: Headers
) -> None:
    response = client.post(
        "/v1/customers", json=customer_payload(holiday_region="de-be"), headers=finance
    )
    assert response.status_code == 201, response.text
    assert response.json()["holiday_region"] == "DE-BE"


@pytest.mark.parametrize(
    ("address", "lines"),
    [
        (
            "Rua Augusta 1500\n01304-001 São Paulo SP\nBrazil",
            ["Rua Augusta 1500", "01304-001 São Paulo SP", "Brazil"],
        ),
        ("  one line  ", ["one line"]),
        ("first\n\n  \nsecond", ["first", "second"]),
        (
            {"street": "500 Market Street", "city": "San Francisco, CA 94105", "country": "USA"},
            ["500 Market Street", "San Francisco, CA 94105", "USA"],
        ),
        ({"street": "Main St 1", "unit": "", "city": "Springfield"}, ["Main St 1", "Springfield"]),
        (["a", "b"], ["a", "b"]),
        (None, []),
    ],
)
def test_address_becomes_lines(
    client: TestClient, finance: Headers, address: Any, lines: list[str]
) -> None:
    response = client.post("/v1/customers", json=customer_payload(address=address), headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["address"] == lines


def test_patch_address_as_a_string(client: TestClient, finance: Headers) -> None:
    created = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    response = client.patch(
        f"/v1/customers/{created['id']}", json={"address": "Line 1\nLine 2"}, headers=finance
    )
    assert response.json()["address"] == ["Line 1", "Line 2"]


def test_a_nul_character_is_a_422_not_a_500(
    app: Any, finance: Headers, session: Session, db_kind: str, request: pytest.FixtureRequest
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    before = count_customers(session)
    response = client.post("/v1/customers", json=customer_payload(name="A\x00B"), headers=finance)
    if response.status_code == 201:  # SQLite keeps it: then it must read back unchanged
        assert response.json()["name"] == "A\x00B"
        return
    assert_invalid(response, "name")
    assert count_customers(session) == before
