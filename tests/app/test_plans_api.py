"""`/v1/plans`: the versioned catalogue, its validation, and money as decimal strings."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.errors import PROBLEM_JSON
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from tests.factories import create_customer, plan_payload

Headers = dict[str, str]


def count_plans(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Plan)) or 0


def assert_invalid(response: Any, field: str) -> dict[str, Any]:
    """422 problem+json whose `errors` name `field`."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == 422
    assert body["type"].endswith("/invalid-input")
    fields = [error["field"] for error in body.get("errors", [])]
    assert field in fields, body
    assert field in body["detail"]
    return body


# --- create and read ---------------------------------------------------------------------


def test_create_plan_returns_money_as_decimal_strings(
    client: TestClient, finance: Headers, session: Session
) -> None:
    payload = plan_payload(code="business")
    response = client.post("/v1/plans", json=payload, headers=finance)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["code"] == "business"
    assert plan["version"] == 1
    assert plan["currency"] == "EUR"
    assert plan["fee"] == "2000.00"
    assert plan["overage_rate"] == "110.00"
    assert plan["on_demand_rate"] == "110.00"  # defaults to the overage rate
    assert plan["included_minutes"] == 1200
    assert plan["included_hours"] == "20.00"
    assert plan["billing_increment_minutes"] == 15
    assert plan["pooling_allowed"] is True
    assert plan["annual_discount_percent"] == "10"
    assert plan["components"] == [{"name": "platform", "share_percent": "100"}]
    assert plan["period"] == "month"
    assert plan["billing_timing"] == "arrears"
    # SPEC's default SLA terms: seed 003's credit tiers and response targets.
    assert plan["availability_target_percent"] == "99.99"
    assert [t["credit_percent"] for t in plan["credit_tiers"]] == ["10", "25", "50"]
    assert plan["response_targets"]["S3"] == {"minutes": 360, "calendar": "business"}
    assert plan["business_hours"] == {"start": "09:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5]}

    stored = session.scalars(sa.select(Plan).where(Plan.code == "business")).one()
    assert stored.fee_minor == 200_000
    assert stored.overage_rate_minor == 11_000
    assert stored.included_minutes == 1200


def test_get_plan_by_code(client: TestClient, finance: Headers) -> None:
    created = client.post("/v1/plans", json=plan_payload(), headers=finance).json()
    response = client.get(f"/v1/plans/{created['code']}", headers=finance)
    assert response.status_code == 200
    assert response.json() == created


def test_unknown_plan_is_404_problem(client: TestClient, finance: Headers) -> None:
    response = client.get("/v1/plans/no-such-plan", headers=finance)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "no-such-plan" in response.json()["detail"]


def test_jpy_has_no_minor_unit(client: TestClient, finance: Headers, session: Session) -> None:
    payload = plan_payload(currency="JPY", fee="500", overage_rate="12000", on_demand_rate="15000")
    response = client.post("/v1/plans", json=payload, headers=finance)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert (plan["fee"], plan["overage_rate"], plan["on_demand_rate"]) == ("500", "12000", "15000")
    assert client.get(f"/v1/plans/{payload['code']}", headers=finance).json()["fee"] == "500"
    assert (
        session.scalars(sa.select(Plan.fee_minor).where(Plan.code == payload["code"])).one() == 500
    )


def test_kwd_has_three_decimals(client: TestClient, finance: Headers) -> None:
    payload = plan_payload(currency="KWD", fee="10.125", overage_rate="1.5")
    response = client.post("/v1/plans", json=payload, headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["fee"] == "10.125"
    assert response.json()["overage_rate"] == "1.500"


def test_shares_adding_to_100_with_decimals_are_accepted(
    client: TestClient, finance: Headers
) -> None:
    components = [
        {"name": "api", "share_percent": "33.33"},
        {"name": "checkout", "share_percent": "33.33"},
        {"name": "merchant-center", "share_percent": "33.34"},
    ]
    response = client.post("/v1/plans", json=plan_payload(components=components), headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["components"] == components


def test_a_quarterly_plan_without_pooling_is_accepted(client: TestClient, finance: Headers) -> None:
    payload = plan_payload(period="quarter", pooling_allowed=False, included_hours="32")
    response = client.post("/v1/plans", json=payload, headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["period"] == "quarter"


def test_duplicate_code_is_409_and_writes_nothing(
    client: TestClient, finance: Headers, session: Session
) -> None:
    payload = plan_payload()
    assert client.post("/v1/plans", json=payload, headers=finance).status_code == 201
    before = count_plans(session)
    response = client.post("/v1/plans", json={**payload, "fee": "1.00"}, headers=finance)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"][0]["field"] == "code"
    assert count_plans(session) == before
    assert client.get(f"/v1/plans/{payload['code']}", headers=finance).json()["fee"] == "2000.00"


# --- list --------------------------------------------------------------------------------


def test_list_plans_pages_with_a_cursor(client: TestClient, finance: Headers) -> None:
    codes = [client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]]
    codes += [
        client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
        for _ in range(4)
    ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    for _ in range(20):  # bounded: a cursor that is ignored must not loop forever
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/plans", params=params, headers=finance)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["code"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2  # only a full page may have a next one
    else:
        pytest.fail("the cursor never reached the last page")
    assert [code for code in seen if code in codes] == codes
    assert len(seen) == len(set(seen))
    assert pages == 3


def test_list_plans_shows_each_plan_once_at_its_latest_version(
    client: TestClient, finance: Headers
) -> None:
    payload = plan_payload()
    client.post("/v1/plans", json=payload, headers=finance)
    client.patch(f"/v1/plans/{payload['code']}", json={"fee": "2100.00"}, headers=finance)
    items = client.get("/v1/plans", params={"limit": 200}, headers=finance).json()["items"]
    mine = [item for item in items if item["code"] == payload["code"]]
    assert [(p["version"], p["fee"]) for p in mine] == [(2, "2100.00")]


# --- versions ----------------------------------------------------------------------------


def test_a_revision_is_a_new_version_and_signed_contracts_keep_theirs(
    client: TestClient, finance: Headers, session: Session
) -> None:
    v1 = client.post("/v1/plans", json=plan_payload(), headers=finance).json()
    code = v1["code"]
    customer = create_customer(session)
    signed = client.post(
        "/v1/contracts",
        json={"customer_id": customer.id, "plan_code": code, "start_date": "2026-01-01"},
        headers=finance,
    ).json()

    response = client.patch(
        f"/v1/plans/{code}", json={"fee": "2200.00", "included_hours": "25"}, headers=finance
    )
    assert response.status_code == 200, response.text
    v2 = response.json()
    assert v2["version"] == 2
    assert v2["id"] != v1["id"]
    assert (v2["fee"], v2["included_minutes"]) == ("2200.00", 1500)
    assert v2["overage_rate"] == v1["overage_rate"]  # what the revision did not name is kept

    old = client.get(f"/v1/contracts/{signed['id']}", headers=finance).json()
    assert (old["plan_version"], old["plan_id"]) == (1, v1["id"])
    assert session.get(Contract, signed["id"]).plan_id == v1["id"]  # type: ignore[union-attr]

    new = client.post(
        "/v1/contracts",
        json={"customer_id": customer.id, "plan_code": code, "start_date": "2026-02-01"},
        headers=finance,
    ).json()
    assert (new["plan_version"], new["plan_id"]) == (2, v2["id"])

    assert client.get(f"/v1/plans/{code}", headers=finance).json()["version"] == 2
    first = client.get(f"/v1/plans/{code}", params={"version": 1}, headers=finance).json()
    assert (first["version"], first["fee"], first["included_minutes"]) == (1, "2000.00", 1200)
    stored_v1 = session.get(Plan, v1["id"])
    assert stored_v1 is not None and stored_v1.fee_minor == 200_000  # never edited in place


def test_a_version_that_does_not_exist_is_404(client: TestClient, finance: Headers) -> None:
    code = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    assert (
        client.get(f"/v1/plans/{code}", params={"version": 2}, headers=finance).status_code == 404
    )
    assert_invalid(
        client.get(f"/v1/plans/{code}", params={"version": 0}, headers=finance), "version"
    )


def test_revising_an_unknown_plan_is_404(client: TestClient, finance: Headers) -> None:
    response = client.patch("/v1/plans/no-such-plan", json={"fee": "1.00"}, headers=finance)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"components": [{"name": "platform", "share_percent": "99"}]}, "components"),
        ({"annual_discount_percent": "101"}, "annual_discount_percent"),
        ({"included_hours": "0.01"}, "included_hours"),
        ({"billing_increment_minutes": 0}, "billing_increment_minutes"),
        ({"currency": "USD"}, "currency"),  # the currency of a plan never changes
        ({"period": "quarter"}, "period"),
    ],
)
def test_an_invalid_revision_is_refused_and_writes_no_version(
    client: TestClient, finance: Headers, session: Session, change: dict[str, Any], field: str
) -> None:
    code = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    before = count_plans(session)
    response = client.patch(f"/v1/plans/{code}", json=change, headers=finance)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in response.json()["detail"]
    assert count_plans(session) == before
    assert client.get(f"/v1/plans/{code}", headers=finance).json()["version"] == 1


def test_a_revision_may_not_make_a_pooling_plan_quarterly_by_the_back_door(
    client: TestClient, finance: Headers, session: Session
) -> None:
    code = client.post(
        "/v1/plans", json=plan_payload(period="quarter", pooling_allowed=False), headers=finance
    ).json()["code"]
    before = count_plans(session)
    response = client.patch(f"/v1/plans/{code}", json={"pooling_allowed": True}, headers=finance)
    assert response.status_code == 422
    assert "pooling_allowed" in response.json()["detail"]
    assert count_plans(session) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"components": [{"name": "platform", "share_percent": "99"}]}, "components"),
        ({"fee": "10.001"}, "fee"),
    ],
)
def test_an_invalid_revision_names_the_field_like_create_does(
    client: TestClient, finance: Headers, change: dict[str, Any], field: str
) -> None:
    code = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    body = assert_invalid(client.patch(f"/v1/plans/{code}", json=change, headers=finance), field)
    assert "Value error" not in body["detail"]
    assert all("Value error" not in error["message"] for error in body["errors"])


# --- validation: one rule per case -------------------------------------------------------

SHARES_99 = [{"name": "a", "share_percent": "49"}, {"name": "b", "share_percent": "50"}]
SHARES_101 = [{"name": "a", "share_percent": "51"}, {"name": "b", "share_percent": "50"}]
SAME_NAMES = [{"name": "a", "share_percent": "50"}, {"name": "a", "share_percent": "50"}]


def tiers(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"below_percent": below, "credit_percent": credit} for below, credit in pairs]


INVALID_PLANS = [
    pytest.param({"currency": "EURO"}, "currency", id="currency-EURO"),
    pytest.param({"currency": "XXX"}, "currency", id="currency-XXX-not-money"),
    pytest.param({"currency": "eur"}, "currency", id="currency-lowercase"),
    pytest.param({"currency": "ZZZ"}, "currency", id="currency-unknown"),
    pytest.param({"components": SHARES_99}, "components", id="shares-99"),
    pytest.param({"components": SHARES_101}, "components", id="shares-101"),
    pytest.param({"components": SAME_NAMES}, "components", id="duplicate-component-names"),
    pytest.param({"components": []}, "components", id="no-components"),
    pytest.param(
        {"components": [{"name": "a", "share_percent": "120"}]},
        "components.0.share_percent",
        id="share-120",
    ),
    pytest.param(
        {
            "components": [
                {"name": "a", "share_percent": "-1"},
                {"name": "b", "share_percent": "101"},
            ]
        },
        "components.0.share_percent",
        id="share-negative",
    ),
    pytest.param(
        {"credit_tiers": tiers(("99", "10"), ("99.5", "25"))}, "credit_tiers", id="tiers-increasing"
    ),
    pytest.param(
        {"credit_tiers": tiers(("99", "10"), ("99", "25"))}, "credit_tiers", id="tiers-equal"
    ),
    pytest.param(
        {"credit_tiers": tiers(("99.9", "25"), ("99", "10"))},
        "credit_tiers",
        id="tiers-credit-decreasing",
    ),
    pytest.param(
        {"credit_tiers": tiers(("99.9", "101"))}, "credit_tiers.0.credit_percent", id="credit-101"
    ),
    pytest.param(
        {"credit_tiers": tiers(("0", "10"))}, "credit_tiers.0.below_percent", id="below-0"
    ),
    pytest.param({"annual_discount_percent": "101"}, "annual_discount_percent", id="discount-101"),
    pytest.param({"annual_discount_percent": "-1"}, "annual_discount_percent", id="discount-neg"),
    pytest.param(
        {"availability_target_percent": "100.01"}, "availability_target_percent", id="target-over"
    ),
    pytest.param(
        {"availability_target_percent": "0"}, "availability_target_percent", id="target-0"
    ),
    pytest.param(
        {"business_hours": {"start": "18:00", "end": "09:00"}},
        "business_hours",
        id="hours-reversed",
    ),
    pytest.param(
        {"business_hours": {"start": "09:00", "end": "09:00"}}, "business_hours", id="hours-empty"
    ),
    pytest.param(
        {"business_hours": {"weekdays": [0, 1]}}, "business_hours.weekdays", id="weekday-0"
    ),
    pytest.param({"business_hours": {"weekdays": [8]}}, "business_hours.weekdays", id="weekday-8"),
    pytest.param(
        {"business_hours": {"weekdays": [1, 1]}}, "business_hours.weekdays", id="weekday-twice"
    ),
    pytest.param({"included_hours": "0.01"}, "included_hours", id="hours-not-whole-minutes"),
    pytest.param({"included_hours": "1.234"}, "included_hours", id="hours-three-decimals"),
    pytest.param({"included_hours": "-1"}, "included_hours", id="hours-negative"),
    pytest.param({"fee": "-1"}, "fee", id="fee-negative"),
    pytest.param({"fee": "-0.01"}, "fee", id="fee-negative-cent"),
    pytest.param({"fee": "NaN"}, "fee", id="fee-nan"),
    pytest.param({"fee": "two thousand"}, "fee", id="fee-not-a-number"),
    pytest.param({"overage_rate": "-110.00"}, "overage_rate", id="overage-negative"),
    pytest.param({"on_demand_rate": "-1"}, "on_demand_rate", id="on-demand-negative"),
    pytest.param({"billing_increment_minutes": 0}, "billing_increment_minutes", id="increment-0"),
    pytest.param(
        {"billing_increment_minutes": -15}, "billing_increment_minutes", id="increment-negative"
    ),
    pytest.param({"period": "week"}, "period", id="period-unknown"),
    pytest.param({"billing_timing": "sometimes"}, "billing_timing", id="timing-unknown"),
    pytest.param({"authorized_contacts": 0}, "authorized_contacts", id="contacts-0"),
    pytest.param({"after_hours_multiplier": "0.5"}, "after_hours_multiplier", id="multiplier-low"),
    pytest.param({"after_hours_levels": [5]}, "after_hours_levels", id="level-5"),
    pytest.param(
        {"response_targets": {"S1": {"minutes": 0, "calendar": "24x7"}}},
        "response_targets.S1.minutes",
        id="target-minutes-0",
    ),
    pytest.param(
        {"response_targets": {"S1": {"minutes": 20, "calendar": "weekends"}}},
        "response_targets.S1.calendar",
        id="target-calendar-unknown",
    ),
    pytest.param({"code": "has space"}, "code", id="code-with-space"),
    pytest.param({"code": ""}, "code", id="code-empty"),
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"discount": "10"}, "discount", id="unknown-field"),
    pytest.param(
        {"components": [{"name": "a", "share_percent": "100", "weight": 1}]},
        "components.0.weight",
        id="unknown-nested-field",
    ),
]


@pytest.mark.parametrize(("overrides", "field"), INVALID_PLANS)
def test_invalid_plan_is_refused_naming_the_field_and_writes_nothing(
    client: TestClient, finance: Headers, session: Session, overrides: dict[str, Any], field: str
) -> None:
    before = count_plans(session)
    response = client.post("/v1/plans", json=plan_payload(**overrides), headers=finance)
    assert_invalid(response, field)
    assert count_plans(session) == before


def test_a_missing_required_field_is_named(client: TestClient, finance: Headers) -> None:
    payload = plan_payload()
    del payload["currency"]
    assert_invalid(client.post("/v1/plans", json=payload, headers=finance), "currency")


# Rules checked across fields: refused, and the problem names the field
# in `errors[].field` as well as in `detail`.
CROSS_FIELD_RULES = [
    pytest.param({"fee": "10.001"}, "fee", id="EUR-fee-three-decimals"),
    pytest.param({"overage_rate": "110.005"}, "overage_rate", id="EUR-overage-three-decimals"),
    pytest.param({"on_demand_rate": "130.001"}, "on_demand_rate", id="EUR-on-demand-decimals"),
    pytest.param(
        {"currency": "JPY", "fee": "10.5", "overage_rate": "100"}, "fee", id="JPY-fee-decimals"
    ),
    pytest.param(
        {"period": "quarter", "pooling_allowed": True}, "pooling_allowed", id="pooling-quarterly"
    ),
    pytest.param(
        {"availability_target_percent": "99.5", "credit_tiers": tiers(("99.9", "10"))},
        "credit_tiers",
        id="tier-above-target",
    ),
]


@pytest.mark.parametrize(("overrides", "field"), CROSS_FIELD_RULES)
def test_cross_field_rules_refuse_and_write_nothing(
    client: TestClient, finance: Headers, session: Session, overrides: dict[str, Any], field: str
) -> None:
    before = count_plans(session)
    response = client.post("/v1/plans", json=plan_payload(**overrides), headers=finance)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert f"{field}:" in response.json()["detail"]
    assert count_plans(session) == before


@pytest.mark.parametrize(("overrides", "field"), CROSS_FIELD_RULES)
def test_cross_field_rules_name_the_field_in_errors(
    client: TestClient, finance: Headers, overrides: dict[str, Any], field: str
) -> None:
    assert_invalid(client.post("/v1/plans", json=plan_payload(**overrides), headers=finance), field)


@pytest.mark.parametrize("currency", ["EUR", "USD", "BRL", "CHF", "GBP"])
def test_real_currencies_are_accepted(client: TestClient, finance: Headers, currency: str) -> None:
    response = client.post("/v1/plans", json=plan_payload(currency=currency), headers=finance)
    assert response.status_code == 201, response.text
    assert response.json()["currency"] == currency


def test_a_plan_is_usable_the_day_it_is_created(
    client: TestClient, finance: Headers, session: Session
) -> None:
    code = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    customer = create_customer(session)
    response = client.post(
        "/v1/contracts",
        json={"customer_id": customer.id, "plan_code": code, "start_date": str(date.today())},
        headers=finance,
    )
    assert response.status_code == 201


# --- out-of-range input must be a 422, not a 500 -----------------------------------------


def test_an_absurdly_large_fee_is_422(app: Any, finance: Headers, session: Session) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    before = count_plans(session)
    response = client.post("/v1/plans", json=plan_payload(fee="1e20"), headers=finance)
    assert_invalid(response, "fee")
    assert count_plans(session) == before


def test_a_number_of_hours_beyond_the_column_is_never_a_500(
    app: Any, finance: Headers, session: Session, db_kind: str, request: pytest.FixtureRequest
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    before = count_plans(session)
    response = client.post("/v1/plans", json=plan_payload(included_hours="1e11"), headers=finance)
    if response.status_code == 201:  # SQLite's 64-bit integers hold it: then it must be exact
        assert response.json()["included_minutes"] == 6 * 10**12
        return
    assert_invalid(response, "included_hours")
    assert count_plans(session) == before


@pytest.mark.parametrize(
    "business_hours",
    [{"start": "08:00Z"}, {"start": "08:00+02:00", "end": "17:00+02:00"}],
    ids=["offset-on-start-only", "offset-on-both"],
)
def test_business_hours_with_a_utc_offset_are_refused(
    app: Any, finance: Headers, session: Session, business_hours: dict[str, str]
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    before = count_plans(session)
    response = client.post(
        "/v1/plans", json=plan_payload(business_hours=business_hours), headers=finance
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith("business_hours")
    assert count_plans(session) == before


def test_percentages_read_back_as_plain_decimals(client: TestClient, finance: Headers) -> None:
    payload = plan_payload(
        annual_discount_percent="1e1", components=[{"name": "platform", "share_percent": "1e2"}]
    )
    plan = client.post("/v1/plans", json=payload, headers=finance).json()
    assert plan["annual_discount_percent"] in ("10", "10.0", "10.00")
    assert plan["components"][0]["share_percent"] in ("100", "100.0", "100.00")
