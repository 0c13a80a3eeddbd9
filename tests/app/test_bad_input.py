"""SPEC "Units and money" (bounds, strict JSON) and "Security": bad input is a problem+json 4xx
and writes nothing. One table of cases over every kind of request body and query parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.errors import PROBLEM_JSON
from ledger.base import metadata
from tests.factories import customer_payload, plan_payload

Headers = dict[str, str]
ESC = "\x1b[31mred\x1b[0m"
NOW = datetime.now(UTC)
IN_THREE_DAYS = (NOW + timedelta(days=3)).date().isoformat()
# A day ahead: still far past the 5 minutes allowed however long the suite takes to get here.
IN_TEN_MINUTES = (NOW + timedelta(days=1)).isoformat()
LATER = NOW.replace(day=1) + timedelta(days=70)  # two periods ahead: beyond the next one
BEYOND = f"{LATER.year:04d}-{LATER.month:02d}"

C = "/v1/contracts/{contract_id}"
WORK = {"worked_on": "2026-01-10", "minutes": 30, "level": 2, "ticket_ref": "T-1"}
TICKET = {"severity": "S2", "opened_at": "2026-01-12T10:00:00Z", "reference": "R-9"}
INCIDENT = {"components": ["platform"], "started_at": "2026-01-13T10:00:00Z"}

# (id, method, url template, json body or None, query params or None)
CASES: list[tuple[str, str, str, Any, Any]] = [
    # strict JSON: integers
    ("minutes-true", "POST", "{work}", WORK | {"minutes": True}, None),
    ("minutes-string", "POST", "{work}", WORK | {"minutes": "30"}, None),
    ("minutes-float", "POST", "{work}", WORK | {"minutes": 30.0}, None),
    ("level-true", "POST", "{work}", WORK | {"level": True}, None),
    ("level-string", "POST", "{work}", WORK | {"level": "2"}, None),
    (
        "batch-contract-id-string",
        "POST",
        "/v1/work-entries/batch",
        {"entries": [WORK | {"contract_id": "{contract_id}"}]},
        None,
    ),
    ("committed-months-true", "POST", "/v1/contracts", "contract", {"committed_months": True}),
    ("committed-months-float", "POST", "/v1/contracts", "contract", {"committed_months": 12.0}),
    ("customer-id-string", "POST", "/v1/contracts", "contract", {"customer_id": "{customer_id}"}),
    ("increment-true", "POST", "/v1/plans", "plan", {"billing_increment_minutes": True}),
    ("increment-float", "POST", "/v1/plans", "plan", {"billing_increment_minutes": 15.0}),
    ("contacts-limit-string", "POST", "/v1/plans", "plan", {"authorized_contacts": "2"}),
    # strict JSON: money
    ("fee-float", "POST", "/v1/plans", "plan", {"fee": 0.1}),
    ("fee-true", "POST", "/v1/plans", "plan", {"fee": True}),
    ("overage-rate-float", "POST", "/v1/plans", "plan", {"overage_rate": 110.5}),
    ("revision-fee-float", "PATCH", "/v1/plans/{code}", {"fee": 2000.5}, None),
    ("adjustment-float", "POST", C + "/adjustments", "adjustment", 0.1),
    ("adjustment-true", "POST", C + "/adjustments", "adjustment", True),
    # strict JSON: text
    ("customer-name-ansi", "POST", "/v1/customers", "customer", {"name": ESC}),
    ("customer-name-newline", "POST", "/v1/customers", "customer", {"name": "A\nB"}),
    ("customer-name-nul", "POST", "/v1/customers", "customer", {"name": "A\x00B"}),
    ("customer-patch-ansi", "PATCH", "/v1/customers/{customer_id}", {"name": ESC}, None),
    ("plan-name-ansi", "POST", "/v1/plans", "plan", {"name": ESC}),
    ("ticket-ref-ansi", "POST", "{work}", WORK | {"ticket_ref": ESC}, None),
    ("description-ansi", "POST", "{work}", WORK | {"description": ESC}, None),
    ("description-bell", "POST", "{work}", WORK | {"description": "ding\x07"}, None),
    ("description-c1", "POST", "{work}", WORK | {"description": "csi\x9b"}, None),
    (
        "contact-name-ansi",
        "POST",
        C + "/contacts",
        {"name": ESC, "email": "a@b.example"},
        None,
    ),
    ("ticket-reference-ansi", "POST", "/v1/tickets", "ticket", {"reference": ESC}),
    ("incident-description-ansi", "POST", "/v1/incidents", "incident", {"description": ESC}),
    ("adjustment-description-esc", "POST", C + "/adjustments", "adj", ESC),
    # bounds: dates in bodies
    ("work-year-9999", "POST", "{work}", WORK | {"worked_on": "9999-12-31"}, None),
    ("work-year-2600", "POST", "{work}", WORK | {"worked_on": "2600-01-15"}, None),
    ("work-year-1999", "POST", "{work}", WORK | {"worked_on": "1999-12-31"}, None),
    ("work-after-tomorrow", "POST", "{work}", WORK | {"worked_on": IN_THREE_DAYS}, None),
    (
        "started-at-another-day",
        "POST",
        "{work}",
        WORK | {"started_at": "2026-01-11T10:00:00+01:00"},
        None,
    ),
    (
        "started-at-utc-day-is-not-local-day",
        "POST",
        "{work}",
        WORK | {"started_at": "2026-01-10T23:30:00Z"},  # 00:30 on the 11th in Berlin
        None,
    ),
    (
        "batch-year-9999",
        "POST",
        "/v1/work-entries/batch",
        {"entries": [WORK | {"contract_id": "{contract_id}", "worked_on": "9999-12-31"}]},
        None,
    ),
    ("contract-start-9999", "POST", "/v1/contracts", "contract", {"start_date": "9999-12-31"}),
    ("contract-end-2100", "POST", "/v1/contracts", "contract", {"end_date": "2100-01-01"}),
    ("cancel-9999", "POST", C + "/cancel", {"end_date": "9999-12-31"}, 0),
    ("pool-9999", "POST", C + "/pools", {"first_month": "9999-12"}, None),
    ("pool-5575", "POST", C + "/pools", {"first_month": "5575-08"}, None),
    ("pool-beyond-next-period", "POST", C + "/pools", {"first_month": BEYOND}, 0),
    ("run-9999", "POST", "/v1/billing-runs", {"period": "9999-12"}, None),
    ("run-dry-9999", "POST", "/v1/billing-runs", {"period": "9999-12", "dry_run": True}, None),
    ("incident-in-future", "POST", "/v1/incidents", "incident", {"started_at": IN_TEN_MINUTES}),
    ("incident-end-in-future", "POST", "/v1/incidents", "incident", {"ended_at": IN_TEN_MINUTES}),
    (
        "incident-year-9999",
        "POST",
        "/v1/incidents",
        "incident",
        {"started_at": "9999-12-31T00:00:00Z"},
    ),
    ("ticket-year-9999", "POST", "/v1/tickets", "ticket", {"opened_at": "9999-12-31T00:00:00Z"}),
    # bounds: query parameters of reads
    ("balance-at-9999", "GET", C + "/balance", None, {"at": "9999-12-31T00:00:00Z"}),
    ("balance-at-2600", "GET", C + "/balance", None, {"at": "2600-01-15T00:00:00Z"}),
    ("balance-beyond-next-period", "GET", C + "/balance", None, {"at": f"{BEYOND}-15T12:00:00Z"}),
    ("statement-9999", "GET", C + "/statement", None, {"month": "9999-12"}),
    ("statement-2600", "GET", C + "/statement", None, {"month": "2600-01"}),
    ("statement-beyond-next-period", "GET", C + "/statement", None, {"month": BEYOND}),
    ("statement-before-contract", "GET", C + "/statement", None, {"month": "2025-12"}),
    ("sla-report-9999", "GET", C + "/sla-report", None, {"month": "9999-12"}),
    ("availability-9999", "GET", C + "/availability", None, {"month": "9999-12"}),
    ("work-list-9999", "GET", C + "/work-entries", None, {"month": "9999-12"}),
    ("invoices-9999", "GET", "/v1/invoices", None, {"period": "9999-12"}),
    ("incidents-9999", "GET", "/v1/incidents", None, {"month": "9999-12"}),
]


def _counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: int(session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
        for table in metadata.sorted_tables
    }


@pytest.fixture
def world(client: TestClient, finance: Headers) -> dict[str, Any]:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()
    customer = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    contract = client.post(
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan_code": plan["code"], "start_date": "2026-01-01"},
        headers=finance,
    ).json()
    return {"code": plan["code"], "customer_id": customer["id"], "contract_id": contract["id"]}


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value in {"{contract_id}", "{customer_id}"}:
            return str(ids[value.strip("{}")])  # the id, as a JSON string
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _request(
    body: Any, extra: Any, ids: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A body given by name is the valid one of its kind with `extra` merged in."""
    valid = {
        "contract": {
            "customer_id": ids["customer_id"],
            "plan_code": ids["code"],
            "start_date": "2026-01-01",
        },
        "plan": plan_payload(),
        "customer": customer_payload(),
        "ticket": TICKET | {"contract_id": ids["contract_id"]},
        "incident": INCIDENT,
    }
    if body in ("adjustment", "adj"):
        key = "amount" if body == "adjustment" else "description"
        return {"amount": "10.00", "description": "x"} | {key: extra}, None
    if isinstance(body, str):
        return valid[body] | extra, None
    if body is None:
        return None, _fill(extra, ids)
    return _fill(body, ids), None


@pytest.mark.parametrize(
    ("method", "url", "body", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_problem_and_writes_nothing(
    client: TestClient,
    session: Session,
    finance: Headers,
    world: dict[str, Any],
    method: str,
    url: str,
    body: Any,
    extra: Any,
) -> None:
    target = url.replace("{work}", "/v1/contracts/{contract_id}/work-entries").format(**world)
    json_body, params = _request(body, extra, world)
    before = _counts(session)
    response = client.request(method, target, json=json_body, params=params, headers=finance)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"]
    assert _counts(session) == before


def test_the_good_neighbours_of_the_bad_cases_are_accepted(
    client: TestClient, finance: Headers, world: dict[str, Any]
) -> None:
    """So the table above refuses for the reason it names, not for a broken base request."""
    work = f"/v1/contracts/{world['contract_id']}/work-entries"
    assert client.post(work, json=WORK, headers=finance).status_code == 201
    tab = WORK | {"description": "line one\n\tline two", "started_at": "2026-01-10T23:30:00+01:00"}
    assert client.post(work, json=tab, headers=finance).status_code == 201, "tab and newline"
    whole = client.post("/v1/plans", json=plan_payload(fee=2000, overage_rate=110), headers=finance)
    assert whole.status_code == 201, whole.text
    assert whole.json()["fee"] == "2000.00"
    percent = plan_payload(annual_discount_percent=12.5, included_hours=7.5)
    assert client.post("/v1/plans", json=percent, headers=finance).status_code == 201
    adjustment = client.post(
        f"/v1/contracts/{world['contract_id']}/adjustments",
        json={"amount": -50, "description": "goodwill"},
        headers=finance,
    )
    assert adjustment.status_code == 201, adjustment.text
    assert adjustment.json()["amount"] == "-50.00"
    incident = INCIDENT | {"started_at": (NOW - timedelta(minutes=1)).isoformat()}
    assert client.post("/v1/incidents", json=incident, headers=finance).status_code == 201
    nearly = INCIDENT | {"started_at": (NOW + timedelta(minutes=2)).isoformat()}
    assert client.post("/v1/incidents", json=nearly, headers=finance).status_code == 201
    statement = client.get(
        f"/v1/contracts/{world['contract_id']}/statement",
        params={"month": f"{NOW.year:04d}-{NOW.month:02d}"},
        headers=finance,
    )
    assert statement.status_code == 200, statement.text
