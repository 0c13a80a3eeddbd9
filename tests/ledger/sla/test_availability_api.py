"""Incidents and monthly availability through the HTTP API, on SQLite and PostgreSQL.

SPEC worked example 3, overlapping and scheduled incidents, month boundaries in the contract's
time zone, partial months and component shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.errors import PROBLEM_JSON
from tests.factories import customer_payload, plan_payload

Headers = dict[str, str]


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
        assert field in body["detail"]
    return body


def setup_contract(
    client: TestClient, finance: Headers, *, plan: dict[str, Any] | None = None, **contract: Any
) -> dict[str, Any]:
    """A plan (worked-example `business` unless overridden), a Berlin customer and a contract."""
    response = client.post("/v1/plans", json=plan_payload(**(plan or {})), headers=finance)
    assert response.status_code == 201, response.text
    plan_code = response.json()["code"]
    response = client.post("/v1/customers", json=customer_payload(), headers=finance)
    assert response.status_code == 201, response.text
    customer_id = response.json()["id"]
    body = {
        "customer_id": customer_id,
        "plan_code": plan_code,
        "start_date": "2026-01-01",
        "committed_months": 12,
        **contract,
    }
    response = client.post("/v1/contracts", json=body, headers=finance)
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_incident(
    client: TestClient,
    headers: Headers,
    started_at: str,
    ended_at: str | None,
    *,
    components: list[str] | None = None,
    scheduled: bool = False,
) -> dict[str, Any]:
    body = {
        "components": components or ["platform"],
        "started_at": started_at,
        "ended_at": ended_at,
        "scheduled": scheduled,
        "description": "database failover",
    }
    response = client.post("/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def availability(
    client: TestClient, headers: Headers, contract_id: int, month: str
) -> dict[str, Any]:
    response = client.get(
        f"/v1/contracts/{contract_id}/availability?month={month}", headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["name"]: line for line in report["components"]}


def test_worked_example_3_april_incident_credits_ten_percent_of_the_fee_charged(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    c1 = setup_contract(client, finance)
    post_incident(client, support, "2026-04-14T09:00:00+02:00", "2026-04-14T14:00:00+02:00")

    april = availability(client, finance, c1["id"], "2026-04")

    assert april["month"] == "2026-04"
    assert april["currency"] == "EUR"
    assert april["fee_charged"] == "1800.00"
    assert april["components"] == [
        {
            "name": "platform",
            "share_percent": "100",
            "downtime_minutes": 300,
            "availability_percent": "99.3056",
            "credit_percent": "10",
            "credit_amount": "180.00",
        }
    ]
    assert april["total_credit_amount"] == "180.00"
    # The invoice of example 3: 2,000.00 - 200.00 - 180.00 = 1,620.00.
    assert 2000_00 - 200_00 - 180_00 == 1620_00


def test_a_month_without_incidents_is_fully_available(client: TestClient, finance: Headers) -> None:
    contract = setup_contract(client, finance)
    [platform] = availability(client, finance, contract["id"], "2026-02")["components"]
    assert platform["downtime_minutes"] == 0
    assert platform["availability_percent"] == "100.0000"
    assert platform["credit_percent"] == "0"
    assert platform["credit_amount"] == "0.00"


def test_overlapping_incidents_count_once(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = setup_contract(client, finance)
    post_incident(client, support, "2026-06-10T10:00:00Z", "2026-06-10T12:00:00Z")
    post_incident(client, finance, "2026-06-10T11:00:00Z", "2026-06-10T13:00:00Z")
    post_incident(client, support, "2026-06-10T11:15:00Z", "2026-06-10T11:45:00Z")

    [platform] = availability(client, finance, contract["id"], "2026-06")["components"]

    assert platform["downtime_minutes"] == 180
    assert platform["availability_percent"] == "99.5833"  # 1 - 180 / 43,200
    assert platform["credit_amount"] == "180.00"


def test_scheduled_maintenance_is_excluded(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = setup_contract(client, finance)
    post_incident(client, support, "2026-07-04T01:00:00Z", "2026-07-04T11:00:00Z", scheduled=True)
    # Unscheduled downtime inside the announced window is not counted either.
    post_incident(client, support, "2026-07-04T02:00:00Z", "2026-07-04T03:00:00Z")

    [platform] = availability(client, finance, contract["id"], "2026-07")["components"]

    assert platform["downtime_minutes"] == 0
    assert platform["availability_percent"] == "100.0000"
    assert platform["credit_amount"] == "0.00"


def test_an_incident_across_a_month_boundary_counts_in_each_month_of_the_contract_zone(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    london = setup_contract(client, finance, timezone="Europe/London", holiday_region="GB")
    berlin = setup_contract(client, finance)
    post_incident(client, support, "2026-03-31T22:00:00Z", "2026-04-01T00:00:00Z")

    # London is on BST (UTC+1): its April starts at 23:00Z, halfway through the incident.
    assert (
        by_name(availability(client, finance, london["id"], "2026-03"))["platform"][
            "downtime_minutes"
        ]
        == 60
    )
    assert (
        by_name(availability(client, finance, london["id"], "2026-04"))["platform"][
            "downtime_minutes"
        ]
        == 60
    )
    # Berlin is on CEST (UTC+2): the incident starts exactly at its April's first instant.
    march = by_name(availability(client, finance, berlin["id"], "2026-03"))["platform"]
    april = by_name(availability(client, finance, berlin["id"], "2026-04"))["platform"]
    assert (march["downtime_minutes"], april["downtime_minutes"]) == (0, 120)
    assert march["availability_percent"] == "100.0000"


def test_an_open_incident_counts_until_the_end_of_a_past_month_and_can_be_closed(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = setup_contract(client, finance)
    incident = post_incident(client, support, "2026-04-30T20:00:00Z", None)
    assert incident["ended_at"] is None

    # Berlin's April ends at 2026-04-30T22:00Z.
    [april] = availability(client, finance, contract["id"], "2026-04")["components"]
    assert april["downtime_minutes"] == 120

    response = client.patch(
        f"/v1/incidents/{incident['id']}",
        json={"ended_at": "2026-05-01T01:00:00+02:00"},
        headers=support,
    )
    assert response.status_code == 200, response.text
    assert response.json()["ended_at"] == "2026-04-30T23:00:00Z"
    [may] = availability(client, finance, contract["id"], "2026-05")["components"]
    assert may["downtime_minutes"] == 60

    again = client.patch(
        f"/v1/incidents/{incident['id']}",
        json={"ended_at": "2026-05-01T02:00:00Z"},
        headers=finance,
    )
    assert_problem(again, 409, "ended_at")


def test_a_partial_month_credits_the_pro_rated_fee_and_ignores_downtime_before_the_start(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    # Worked example 4's contract C2: no annual term, starts 2026-05-20; May fee 774.19.
    c2 = setup_contract(client, finance, start_date="2026-05-20", committed_months=0)
    post_incident(client, support, "2026-05-05T08:00:00Z", "2026-05-05T20:00:00Z")
    post_incident(client, support, "2026-05-25T08:00:00Z", "2026-05-25T13:00:00Z")

    may = availability(client, finance, c2["id"], "2026-05")
    [platform] = may["components"]

    assert may["fee_charged"] == "774.19"
    assert platform["downtime_minutes"] == 300
    assert platform["availability_percent"] == "99.3280"  # 1 - 300 / 44,640
    assert platform["credit_percent"] == "10"
    assert platform["credit_amount"] == "77.42"  # 10 % of 774.19, half-up


def test_each_component_earns_its_share_of_the_credit(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    plan = {
        "components": [
            {"name": "platform", "share_percent": "60"},
            {"name": "api", "share_percent": "40"},
        ]
    }
    contract = setup_contract(client, finance, plan=plan)
    post_incident(
        client, support, "2026-04-14T08:00:00Z", "2026-04-14T13:00:00Z", components=["api"]
    )
    # 3,000 minutes: 93.0556 %, below 95 % -> 50 %.
    post_incident(
        client, support, "2026-04-20T00:00:00Z", "2026-04-22T02:00:00Z", components=["platform"]
    )

    report = availability(client, finance, contract["id"], "2026-04")
    lines = by_name(report)

    assert [line["name"] for line in report["components"]] == ["platform", "api"]
    assert lines["platform"]["downtime_minutes"] == 3000
    assert lines["platform"]["availability_percent"] == "93.0556"
    assert lines["platform"]["credit_percent"] == "50"
    assert lines["platform"]["credit_amount"] == "540.00"  # 1,800.00 x 60 % x 50 %
    assert lines["api"]["downtime_minutes"] == 300
    assert lines["api"]["credit_percent"] == "10"
    assert lines["api"]["credit_amount"] == "72.00"  # 1,800.00 x 40 % x 10 %
    assert report["total_credit_amount"] == "612.00"


def test_incident_input_is_validated_field_by_field(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    setup_contract(client, finance)
    valid = {
        "components": ["platform"],
        "started_at": "2026-04-14T09:00:00+02:00",
        "ended_at": "2026-04-14T14:00:00+02:00",
        "scheduled": False,
        "description": "",
    }
    backwards = valid | {"ended_at": "2026-04-14T08:00:00+02:00"}
    assert_problem(client.post("/v1/incidents", json=backwards, headers=support), 422, "ended_at")
    naive = valid | {"started_at": "2026-04-14T09:00:00"}
    assert_problem(client.post("/v1/incidents", json=naive, headers=support), 422, "started_at")
    assert_problem(
        client.post("/v1/incidents", json=valid | {"components": []}, headers=support),
        422,
        "components",
    )
    # Component names are service-wide, but a name no plan has is most likely a typo.
    typo = client.post("/v1/incidents", json=valid | {"components": ["platfrom"]}, headers=support)
    body = assert_problem(typo, 422, "components")
    assert "platfrom" in body["detail"]
    assert client.get("/v1/incidents", headers=finance).json()["items"] == []


def test_listing_incidents_filters_by_component_and_month(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    plan = {
        "components": [
            {"name": "platform", "share_percent": "50"},
            {"name": "search", "share_percent": "50"},
        ]
    }
    setup_contract(client, finance, plan=plan)
    first = post_incident(client, support, "2026-03-31T23:00:00Z", "2026-04-01T01:00:00Z")
    second = post_incident(
        client, support, "2026-04-10T10:00:00Z", None, components=["search", "platform"]
    )
    third = post_incident(
        client, support, "2026-05-02T10:00:00Z", "2026-05-02T11:00:00Z", components=["search"]
    )
    assert second["components"] == ["search", "platform"]

    def ids(query: str) -> list[int]:
        response = client.get(f"/v1/incidents{query}", headers=support)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids("") == [first["id"], second["id"], third["id"]]
    assert ids("?component=search") == [second["id"], third["id"]]
    assert ids("?month=2026-03") == [first["id"]]
    assert ids("?month=2026-04") == [first["id"], second["id"]]
    assert ids("?month=2026-05&component=platform") == [second["id"]]
    page = client.get("/v1/incidents?limit=2", headers=finance).json()
    assert [item["id"] for item in page["items"]] == [first["id"], second["id"]]
    rest = client.get(f"/v1/incidents?limit=2&cursor={page['next_cursor']}", headers=finance)
    assert [item["id"] for item in rest.json()["items"]] == [third["id"]]
    assert_problem(client.get("/v1/incidents?month=2026-13", headers=finance), 422, "month")
    single = client.get(f"/v1/incidents/{third['id']}", headers=support)
    assert single.json()["components"] == ["search"]
    assert_problem(client.get("/v1/incidents/999999", headers=support), 404)


def test_the_month_must_be_a_real_month_the_contract_covers(
    client: TestClient, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    url = f"/v1/contracts/{contract['id']}/availability"
    for bad in ("2026-13", "2026-4", "April", "2026-00"):
        assert_problem(client.get(f"{url}?month={bad}", headers=finance), 422, "month")
    assert_problem(client.get(url, headers=finance), 422, "month")
    body = assert_problem(client.get(f"{url}?month=2025-12", headers=finance), 422, "month")
    assert "does not cover 2025-12" in body["detail"]


def test_roles_and_customer_isolation(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
) -> None:
    mine = setup_contract(client, finance)
    other = setup_contract(client, finance)
    owner = customer_headers(mine["customer_id"])
    stranger = customer_headers(other["customer_id"])
    post_incident(client, support, "2026-04-14T09:00:00+02:00", "2026-04-14T14:00:00+02:00")
    url = f"/v1/contracts/{mine['id']}/availability?month=2026-04"

    assert client.get(url, headers=owner).json()["total_credit_amount"] == "180.00"
    assert client.get(url, headers=support).status_code == 200
    assert_problem(client.get(url, headers=stranger), 404)
    assert_problem(
        client.get("/v1/contracts/999999/availability?month=2026-04", headers=finance), 404
    )
    body = {"components": ["platform"], "started_at": "2026-04-01T00:00:00Z", "ended_at": None}
    assert_problem(client.post("/v1/incidents", json=body, headers=owner), 403)
    assert_problem(client.get("/v1/incidents", headers=owner), 403)
    assert_problem(client.get(url), 401)
