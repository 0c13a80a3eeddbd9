"""Tickets, pauses, first responses and the monthly SLA report through the HTTP API.

SPEC worked example 5 (an S3 ticket over Christmas in Berlin), met / breached / open, pauses
that push the due time, and the report's counts, percentages and breach credits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.ledger.sla.test_availability_api import assert_problem, setup_contract

Headers = dict[str, str]


def open_ticket(
    client: TestClient,
    headers: Headers,
    contract_id: int,
    severity: str,
    opened_at: str,
    reference: str | None = None,
) -> dict[str, Any]:
    body = {
        "contract_id": contract_id,
        "severity": severity,
        "opened_at": opened_at,
        "reference": reference or f"{severity}-{opened_at}",
    }
    response = client.post("/v1/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def respond(
    client: TestClient, headers: Headers, ticket_id: int, responded_at: str
) -> dict[str, Any]:
    response = client.post(
        f"/v1/tickets/{ticket_id}/response", json={"responded_at": responded_at}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def pause(
    client: TestClient, headers: Headers, ticket_id: int, started_at: str, ended_at: str | None
) -> dict[str, Any]:
    response = client.post(
        f"/v1/tickets/{ticket_id}/pauses",
        json={"started_at": started_at, "ended_at": ended_at},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def report(client: TestClient, headers: Headers, contract_id: int, month: str) -> dict[str, Any]:
    response = client.get(f"/v1/contracts/{contract_id}/sla-report?month={month}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_worked_example_5_s3_ticket_over_christmas(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    c1 = setup_contract(client, finance)
    ticket = open_ticket(client, support, c1["id"], "S3", "2026-12-24T17:00:00+01:00", "XMAS-1")

    # 1 h on Thursday the 24th; the 25th and 26th are holidays, the 27th a Sunday; 5 h Monday.
    assert ticket["due_at"] == "2026-12-28T13:00:00Z"  # 14:00 in Berlin
    assert ticket["opened_at"] == "2026-12-24T16:00:00Z"
    assert (ticket["target_minutes"], ticket["calendar"]) == (360, "business")
    assert ticket["status"] == "open"
    assert ticket["responded_at"] is None
    assert ticket["pauses"] == []
    assert ticket["reference"] == "XMAS-1"
    assert ticket["contract_id"] == c1["id"]
    assert client.get(f"/v1/tickets/{ticket['id']}", headers=finance).json() == ticket


def test_met_breached_and_open_tickets_in_the_monthly_report(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    cid = contract["id"]
    met = open_ticket(client, support, cid, "S1", "2026-04-14T10:00:00Z")
    assert met["due_at"] == "2026-04-14T10:20:00Z"
    assert respond(client, support, met["id"], "2026-04-14T12:15:00+02:00")["status"] == "met"
    late = open_ticket(client, support, cid, "S1", "2026-04-15T10:00:00Z")
    assert respond(client, support, late["id"], "2026-04-15T10:30:00Z")["status"] == "breached"
    unanswered = open_ticket(client, support, cid, "S2", "2026-04-16T10:00:00Z")
    assert unanswered["due_at"] == "2026-04-16T11:30:00Z"
    assert unanswered["status"] == "breached"  # nobody answered, and the due time has passed
    # Opened in Berlin's April (00:30 on 1 April local), though still March in UTC.
    edge = open_ticket(client, support, cid, "S1", "2026-03-31T22:30:00Z")
    respond(client, support, edge["id"], "2026-03-31T22:31:00Z")
    # May: not in April's report.
    open_ticket(client, support, cid, "S1", "2026-04-30T22:00:00Z")

    april = report(client, finance, cid, "2026-04")

    assert april["month"] == "2026-04"
    assert april["severities"] == {
        "S1": {"tickets": 3, "met": 2, "breached": 1, "percent_met": "66.67"},
        "S2": {"tickets": 1, "met": 0, "breached": 1, "percent_met": "0.00"},
        "S3": {"tickets": 0, "met": 0, "breached": 0, "percent_met": None},
        "S4": {"tickets": 0, "met": 0, "breached": 0, "percent_met": None},
    }
    assert april["breached"] == 2
    assert april["credit_per_breach"] is None
    assert april["breach_credit_amount"] is None


def test_a_ticket_still_inside_its_target_is_open_and_not_judged(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    opened_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    ticket = open_ticket(client, support, contract["id"], "S1", opened_at.isoformat())
    assert ticket["status"] == "open"
    month = f"{opened_at.astimezone(ZoneInfo('Europe/Berlin')):%Y-%m}"
    current = report(client, finance, contract["id"], month)["severities"]
    assert current["S1"] == {"tickets": 1, "met": 0, "breached": 0, "percent_met": None}


def test_a_pause_waiting_on_the_customer_pushes_the_due_time(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    ticket = open_ticket(client, support, contract["id"], "S1", "2026-04-17T10:00:00Z")
    assert ticket["due_at"] == "2026-04-17T10:20:00Z"

    paused = pause(client, support, ticket["id"], "2026-04-17T10:05:00Z", "2026-04-17T10:35:00Z")
    assert paused["due_at"] == "2026-04-17T10:50:00Z"
    assert [(p["started_at"], p["ended_at"]) for p in paused["pauses"]] == [
        ("2026-04-17T10:05:00Z", "2026-04-17T10:35:00Z")
    ]
    # Answered at 10:45: late without the pause, in time with it.
    assert respond(client, support, ticket["id"], "2026-04-17T10:45:00Z")["status"] == "met"


def test_an_open_pause_holds_the_clock_until_it_is_closed(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    ticket = open_ticket(client, support, contract["id"], "S1", "2026-04-20T10:00:00Z")

    waiting = pause(client, support, ticket["id"], "2026-04-20T10:10:00Z", None)
    assert waiting["due_at"] is None
    assert waiting["status"] == "open"  # the clock stopped with 10 minutes left
    [open_pause] = waiting["pauses"]
    second = client.post(
        f"/v1/tickets/{ticket['id']}/pauses",
        json={"started_at": "2026-04-20T10:15:00Z", "ended_at": None},
        headers=support,
    )
    assert_problem(second, 409, "ended_at")

    closed = client.patch(
        f"/v1/tickets/{ticket['id']}/pauses/{open_pause['id']}",
        json={"ended_at": "2026-04-20T11:00:00Z"},
        headers=support,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["due_at"] == "2026-04-20T11:10:00Z"
    assert closed.json()["status"] == "breached"
    assert closed.json()["pauses"][0]["ended_at"] == "2026-04-20T11:00:00Z"
    again = client.patch(
        f"/v1/tickets/{ticket['id']}/pauses/{open_pause['id']}",
        json={"ended_at": "2026-04-20T11:30:00Z"},
        headers=support,
    )
    assert_problem(again, 409, "ended_at")
    assert_problem(
        client.patch(
            f"/v1/tickets/{ticket['id']}/pauses/999999",
            json={"ended_at": "2026-04-20T11:30:00Z"},
            headers=support,
        ),
        404,
    )


def test_ticket_rules_refuse_bad_input(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    cid = contract["id"]
    valid = {
        "contract_id": cid,
        "severity": "S2",
        "opened_at": "2026-04-14T10:00:00Z",
        "reference": "T-1",
    }
    assert_problem(
        client.post("/v1/tickets", json=valid | {"severity": "S5"}, headers=support),
        422,
        "severity",
    )
    assert_problem(
        client.post(
            "/v1/tickets", json=valid | {"opened_at": "2026-04-14T10:00:00"}, headers=support
        ),
        422,
        "opened_at",
    )
    body = assert_problem(
        client.post(
            "/v1/tickets", json=valid | {"opened_at": "2025-12-31T12:00:00Z"}, headers=support
        ),
        422,
        "opened_at",
    )
    assert "outside contract" in body["detail"]
    assert_problem(
        client.post("/v1/tickets", json=valid | {"contract_id": 999999}, headers=support),
        422,
        "contract_id",
    )
    ticket = open_ticket(client, support, cid, "S2", "2026-04-14T10:00:00Z", "T-1")
    assert_problem(client.post("/v1/tickets", json=valid, headers=support), 409, "reference")

    url = f"/v1/tickets/{ticket['id']}"
    early = client.post(
        f"{url}/pauses",
        json={"started_at": "2026-04-14T09:59:00Z", "ended_at": None},
        headers=support,
    )
    assert_problem(early, 422, "started_at")
    backwards = client.post(
        f"{url}/pauses",
        json={"started_at": "2026-04-14T10:30:00Z", "ended_at": "2026-04-14T10:10:00Z"},
        headers=support,
    )
    assert_problem(backwards, 422, "ended_at")
    before_opening = client.post(
        f"{url}/response", json={"responded_at": "2026-04-14T09:00:00Z"}, headers=support
    )
    assert_problem(before_opening, 422, "responded_at")
    respond(client, support, ticket["id"], "2026-04-14T10:40:00Z")
    twice = client.post(
        f"{url}/response", json={"responded_at": "2026-04-14T10:50:00Z"}, headers=support
    )
    assert_problem(twice, 409, "responded_at")
    after_response = client.post(
        f"{url}/pauses",
        json={"started_at": "2026-04-14T10:45:00Z", "ended_at": "2026-04-14T11:00:00Z"},
        headers=support,
    )
    assert_problem(after_response, 422, "started_at")
    assert client.get(url, headers=support).json()["pauses"] == []
    assert_problem(client.get("/v1/tickets/999999", headers=support), 404)
    bad_month = client.get(f"/v1/contracts/{cid}/sla-report?month=2026-13", headers=finance)
    assert_problem(bad_month, 422, "month")


def test_a_severity_the_plan_sets_no_target_for_is_refused(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    targets = {
        "S1": {"minutes": 15, "calendar": "24x7"},
        "S2": {"minutes": 480, "calendar": "business"},
    }
    contract = setup_contract(client, finance, plan={"response_targets": targets})
    body = {
        "contract_id": contract["id"],
        "severity": "S4",
        "opened_at": "2026-04-14T10:00:00Z",
        "reference": "T-4",
    }
    problem = assert_problem(
        client.post("/v1/tickets", json=body, headers=support), 422, "severity"
    )
    assert "no response target for S4" in problem["detail"]
    # Seed 000's regular tickets: 8 business hours from Tuesday 14:00 Berlin -> Wednesday 13:00.
    regular = open_ticket(client, support, contract["id"], "S2", "2026-04-14T12:00:00Z")
    assert regular["due_at"] == "2026-04-15T11:00:00Z"


def test_a_plan_with_a_credit_per_breach_reports_the_breach_credit(
    client: TestClient, support: Headers, finance: Headers
) -> None:
    contract = setup_contract(client, finance, plan={"credit_per_breach": "50.00"})
    cid = contract["id"]
    open_ticket(client, support, cid, "S1", "2026-04-14T10:00:00Z")
    open_ticket(client, support, cid, "S2", "2026-04-15T10:00:00Z")
    answered = open_ticket(client, support, cid, "S1", "2026-04-16T10:00:00Z")
    respond(client, support, answered["id"], "2026-04-16T10:05:00Z")

    april = report(client, finance, cid, "2026-04")

    assert april["breached"] == 2
    assert april["credit_per_breach"] == "50.00"
    assert april["breach_credit_amount"] == "100.00"
    assert april["currency"] == "EUR"
    may = report(client, finance, cid, "2026-05")
    assert may["breach_credit_amount"] == "0.00"


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
    my_ticket = open_ticket(client, support, mine["id"], "S1", "2026-04-14T10:00:00Z")
    their_ticket = open_ticket(client, finance, other["id"], "S1", "2026-04-14T10:00:00Z")

    assert client.get(f"/v1/tickets/{my_ticket['id']}", headers=owner).status_code == 200
    assert_problem(client.get(f"/v1/tickets/{my_ticket['id']}", headers=stranger), 404)
    listed = client.get("/v1/tickets", headers=owner).json()["items"]
    assert [t["id"] for t in listed] == [my_ticket["id"]]
    everything = client.get("/v1/tickets", headers=support).json()["items"]
    assert {t["id"] for t in everything} == {my_ticket["id"], their_ticket["id"]}
    by_contract = client.get(f"/v1/tickets?contract_id={other['id']}", headers=owner)
    assert by_contract.json()["items"] == []

    url = f"/v1/contracts/{mine['id']}/sla-report?month=2026-04"
    assert client.get(url, headers=owner).json()["severities"]["S1"]["tickets"] == 1
    assert_problem(client.get(url, headers=stranger), 404)

    body = {
        "contract_id": mine["id"],
        "severity": "S1",
        "opened_at": "2026-04-14T11:00:00Z",
        "reference": "from-the-customer",
    }
    assert_problem(client.post("/v1/tickets", json=body, headers=owner), 403)
    response = client.post(
        f"/v1/tickets/{my_ticket['id']}/response",
        json={"responded_at": "2026-04-14T10:01:00Z"},
        headers=owner,
    )
    assert_problem(response, 403)
