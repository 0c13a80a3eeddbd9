"""`/v1/contracts`: sign, read, list, cancel. Currency comes from the plan; time zone and
holiday region from the customer unless the contract names its own."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.errors import PROBLEM_JSON
from ledger.contracts.models import Contract
from tests.factories import create_contract, create_customer, create_plan

Headers = dict[str, str]


def count_contracts(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Contract)) or 0


def assert_invalid(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == 422
    assert field in [error["field"] for error in body.get("errors", [])], body
    assert field in body["detail"]
    return body


@pytest.fixture
def signing(session: Session) -> dict[str, Any]:
    """A valid request body for POST /v1/contracts: a customer in São Paulo, a JPY plan."""
    customer = create_customer(
        session, country="BR", timezone="America/Sao_Paulo", holiday_region="BR-SP"
    )
    plan = create_plan(session, currency="JPY", fee="300000", overage_rate="15000")
    return {"customer_id": customer.id, "plan_code": plan.code, "start_date": "2026-01-01"}


def test_create_takes_currency_from_the_plan_and_zone_from_the_customer(
    client: TestClient, finance: Headers, signing: dict[str, Any]
) -> None:
    body = {**signing, "committed_months": 12, "overage_cap_hours": "7.75"}
    response = client.post("/v1/contracts", json=body, headers=finance)
    assert response.status_code == 201, response.text
    contract = response.json()
    assert contract["currency"] == "JPY"
    assert contract["timezone"] == "America/Sao_Paulo"
    assert contract["holiday_region"] == "BR-SP"
    assert contract["customer_id"] == signing["customer_id"]
    assert (contract["plan_code"], contract["plan_version"]) == (signing["plan_code"], 1)
    assert contract["period"] == "month"
    assert contract["start_date"] == "2026-01-01"
    assert contract["end_date"] is None
    assert contract["committed_months"] == 12
    assert contract["overage_cap_minutes"] == 465
    assert contract["status"] == "active"
    read = client.get(f"/v1/contracts/{contract['id']}", headers=finance)
    assert read.status_code == 200
    assert read.json() == contract


def test_the_contract_may_name_its_own_zone_and_holiday_region(
    client: TestClient, finance: Headers, signing: dict[str, Any]
) -> None:
    body = {**signing, "timezone": "Europe/Berlin", "holiday_region": "DE-BE"}
    contract = client.post("/v1/contracts", json=body, headers=finance).json()
    assert (contract["timezone"], contract["holiday_region"]) == ("Europe/Berlin", "DE-BE")


def test_a_contract_keeps_its_zone_when_the_customer_moves(
    client: TestClient, finance: Headers, signing: dict[str, Any]
) -> None:
    contract = client.post("/v1/contracts", json=signing, headers=finance).json()
    client.patch(
        f"/v1/customers/{signing['customer_id']}",
        json={"timezone": "Europe/Lisbon", "holiday_region": "PT"},
        headers=finance,
    )
    read = client.get(f"/v1/contracts/{contract['id']}", headers=finance).json()
    assert (read["timezone"], read["holiday_region"]) == ("America/Sao_Paulo", "BR-SP")


def test_a_quarterly_plan_gives_a_quarterly_contract(
    client: TestClient, finance: Headers, session: Session
) -> None:
    plan = create_plan(session, period="quarter", pooling_allowed=False)
    customer = create_customer(session)
    body = {"customer_id": customer.id, "plan_code": plan.code, "start_date": "2026-01-01"}
    assert client.post("/v1/contracts", json=body, headers=finance).json()["period"] == "quarter"


def test_an_end_date_after_the_start_is_accepted(
    client: TestClient, finance: Headers, signing: dict[str, Any]
) -> None:
    body = {**signing, "end_date": "2026-01-02"}
    response = client.post("/v1/contracts", json=body, headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["end_date"] == "2026-01-02"


INVALID_CONTRACTS = [
    pytest.param({"plan_code": "no-such-plan"}, "plan_code", id="unknown-plan"),
    pytest.param({"plan_code": ""}, "plan_code", id="empty-plan-code"),
    pytest.param({"customer_id": 987_654}, "customer_id", id="unknown-customer"),
    pytest.param({"customer_id": "abc"}, "customer_id", id="customer-not-an-id"),
    pytest.param({"timezone": "Mars/Base"}, "timezone", id="timezone-unknown"),
    pytest.param({"timezone": "europe/berlin"}, "timezone", id="timezone-lowercase"),
    pytest.param({"holiday_region": "DE-ZZ"}, "holiday_region", id="region-unknown"),
    pytest.param({"overage_cap_hours": "0.01"}, "overage_cap_hours", id="cap-not-whole-minutes"),
    pytest.param({"overage_cap_hours": "-1"}, "overage_cap_hours", id="cap-negative"),
    pytest.param({"committed_months": -1}, "committed_months", id="commitment-negative"),
    pytest.param({"start_date": "2026-02-30"}, "start_date", id="start-not-a-date"),
    pytest.param({"start_date": "01/01/2026"}, "start_date", id="start-not-iso"),
    pytest.param({"end_date": "soon"}, "end_date", id="end-not-a-date"),
    pytest.param({"currency": "EUR"}, "currency", id="currency-is-not-the-callers"),
]


@pytest.mark.parametrize(("overrides", "field"), INVALID_CONTRACTS)
def test_invalid_contract_is_refused_naming_the_field_and_writes_nothing(
    client: TestClient,
    finance: Headers,
    session: Session,
    signing: dict[str, Any],
    overrides: dict[str, Any],
    field: str,
) -> None:
    before = count_contracts(session)
    response = client.post("/v1/contracts", json={**signing, **overrides}, headers=finance)
    assert_invalid(response, field)
    assert count_contracts(session) == before


@pytest.mark.parametrize("field", ["customer_id", "plan_code", "start_date"])
def test_required_fields(
    client: TestClient, finance: Headers, signing: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in signing.items() if k != field}
    assert_invalid(client.post("/v1/contracts", json=body, headers=finance), field)


END_NOT_AFTER_START = [
    pytest.param("2026-01-01", id="end-equals-start"),
    pytest.param("2025-12-31", id="end-before-start"),
]


@pytest.mark.parametrize("end_date", END_NOT_AFTER_START)
def test_end_date_not_after_start_is_refused_and_writes_nothing(
    client: TestClient, finance: Headers, session: Session, signing: dict[str, Any], end_date: str
) -> None:
    before = count_contracts(session)
    response = client.post("/v1/contracts", json={**signing, "end_date": end_date}, headers=finance)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "end_date" in response.json()["detail"]
    assert count_contracts(session) == before


@pytest.mark.parametrize("end_date", END_NOT_AFTER_START)
def test_end_date_not_after_start_names_end_date_in_errors(
    client: TestClient, finance: Headers, signing: dict[str, Any], end_date: str
) -> None:
    response = client.post("/v1/contracts", json={**signing, "end_date": end_date}, headers=finance)
    assert_invalid(response, "end_date")


# --- cancel ------------------------------------------------------------------------------


def test_cancel_sets_status_and_end_date(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = create_contract(session)
    response = client.post(
        f"/v1/contracts/{contract.id}/cancel", json={"end_date": "2026-06-30"}, headers=finance
    )
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert (cancelled["status"], cancelled["end_date"]) == ("cancelled", "2026-06-30")
    assert client.get(f"/v1/contracts/{contract.id}", headers=finance).json() == cancelled
    session.refresh(contract)
    assert contract.cancelled_at is not None


def test_cancel_on_the_start_date_is_a_one_day_contract(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = create_contract(session)
    response = client.post(
        f"/v1/contracts/{contract.id}/cancel", json={"end_date": "2026-01-01"}, headers=finance
    )
    assert response.status_code == 200
    assert response.json()["end_date"] == "2026-01-01"


@pytest.mark.parametrize(
    ("end_date", "existing_end"),
    [
        pytest.param("2025-12-31", None, id="before-start"),
        pytest.param("2027-01-31", "2026-12-31", id="after-agreed-end"),
    ],
)
def test_cancel_with_an_impossible_end_date_is_422_and_changes_nothing(
    client: TestClient, finance: Headers, session: Session, end_date: str, existing_end: str | None
) -> None:
    contract = create_contract(session, end_date=existing_end)
    before = client.get(f"/v1/contracts/{contract.id}", headers=finance).json()
    response = client.post(
        f"/v1/contracts/{contract.id}/cancel", json={"end_date": end_date}, headers=finance
    )
    assert_invalid(response, "end_date")
    assert client.get(f"/v1/contracts/{contract.id}", headers=finance).json() == before
    assert before["status"] == "active"


def test_cancel_needs_an_end_date(client: TestClient, finance: Headers, session: Session) -> None:
    contract = create_contract(session)
    response = client.post(f"/v1/contracts/{contract.id}/cancel", json={}, headers=finance)
    assert_invalid(response, "end_date")


def test_cancel_unknown_contract_is_404(client: TestClient, finance: Headers) -> None:
    response = client.post(
        "/v1/contracts/987654/cancel", json={"end_date": "2026-06-30"}, headers=finance
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_unknown_contract_is_404(client: TestClient, finance: Headers) -> None:
    assert client.get("/v1/contracts/987654", headers=finance).status_code == 404


# --- list --------------------------------------------------------------------------------


def test_list_filtered_by_customer(client: TestClient, finance: Headers, session: Session) -> None:
    plan = create_plan(session)
    alice = create_customer(session)
    bob = create_customer(session)
    alices = [create_contract(session, customer=alice, plan=plan).id for _ in range(2)]
    bobs = [create_contract(session, customer=bob, plan=plan).id]
    listed = client.get("/v1/contracts", params={"customer_id": alice.id}, headers=finance).json()
    assert [c["id"] for c in listed["items"]] == alices
    listed = client.get("/v1/contracts", params={"customer_id": bob.id}, headers=finance).json()
    assert [c["id"] for c in listed["items"]] == bobs
    everything = client.get("/v1/contracts", headers=finance).json()
    assert set(alices + bobs) <= {c["id"] for c in everything["items"]}


def test_list_pages_with_a_cursor(client: TestClient, finance: Headers, session: Session) -> None:
    customer = create_customer(session)
    plan = create_plan(session)
    ids = [create_contract(session, customer=customer, plan=plan).id for _ in range(5)]
    seen: list[int] = []
    params: dict[str, Any] = {"customer_id": customer.id, "limit": 2}
    pages = []
    for _ in range(10):  # bounded: a cursor that is ignored must not loop forever
        page = client.get("/v1/contracts", params=params, headers=finance).json()
        pages.append(len(page["items"]))
        seen += [c["id"] for c in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    else:
        pytest.fail("the cursor never reached the last page")
    assert seen == ids
    assert pages == [2, 2, 1]


def test_an_exactly_full_last_page_has_no_next_cursor(
    client: TestClient, finance: Headers, session: Session
) -> None:
    customer = create_customer(session)
    plan = create_plan(session)
    ids = [create_contract(session, customer=customer, plan=plan).id for _ in range(2)]
    page = client.get(
        "/v1/contracts", params={"customer_id": customer.id, "limit": 2}, headers=finance
    ).json()
    assert [c["id"] for c in page["items"]] == ids
    assert page["next_cursor"] is None
