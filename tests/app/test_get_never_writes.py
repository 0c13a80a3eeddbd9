"""SPEC "Security": a GET never writes to the database, whoever sends it.

Every GET route of the OpenAPI document is called as every role, with ids of real rows and
query parameters that reach the code (including months whose allotments were never granted,
which reads used to grant), and no table may gain or lose a row; allotments and overage totals
may not change either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ledger.base import metadata
from tests.factories import billing_run, customer_payload, plan_payload

Headers = dict[str, str]


def _post(client: TestClient, url: str, body: dict[str, Any], headers: Headers) -> Any:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), (url, response.text)
    return response.json()


def _world(client: TestClient, finance: Headers) -> dict[str, Any]:
    """One of everything a GET can read: a plan, a customer, a contract with work in its first
    month only (later months ungranted), a ticket, an incident, an invoice, a billing run."""
    plan = _post(client, "/v1/plans", plan_payload(code="reads"), finance)
    customer = _post(client, "/v1/customers", customer_payload(), finance)
    contract = _post(
        client,
        "/v1/contracts",
        {"customer_id": customer["id"], "plan_code": "reads", "start_date": "2026-01-01"},
        finance,
    )
    work = _post(
        client,
        f"/v1/contracts/{contract['id']}/work-entries",
        {"worked_on": "2026-01-10", "minutes": 60, "level": 2, "ticket_ref": "T-1"},
        finance,
    )
    ticket = _post(
        client,
        "/v1/tickets",
        {
            "contract_id": contract["id"],
            "severity": "S2",
            "opened_at": "2026-01-12T10:00:00+01:00",
            "reference": "R-1",
        },
        finance,
    )
    incident = _post(
        client,
        "/v1/incidents",
        {
            "components": ["platform"],
            "started_at": "2026-01-13T10:00:00Z",
            "ended_at": "2026-01-13T11:00:00Z",
        },
        finance,
    )
    run = billing_run(client, finance, "2026-01")
    endpoint = _post(
        client,
        "/v1/webhook-endpoints",
        {"url": "http://127.0.0.1:9/hooks", "events": ["invoice.issued"]},
        finance,
    )
    invoices = client.get(
        "/v1/invoices", params={"contract_id": contract["id"]}, headers=finance
    ).json()["items"]
    assert invoices, "the run issued the January invoice"
    # Voiding gives a credit note to read too.
    note = _post(client, f"/v1/invoices/{invoices[0]['id']}/void", {"reason": "test"}, finance)
    return {
        "code": plan["code"],
        "customer_id": customer["id"],
        "contract_id": contract["id"],
        "work_entry_id": work["id"],
        "ticket_id": ticket["id"],
        "incident_id": incident["id"],
        "run_id": run["id"],
        "invoice_id": invoices[0]["id"],
        "credit_note_id": note["id"],
        "endpoint_id": endpoint["id"],
        "asset": "app.js",
    }


def _snapshot(session: Session) -> dict[str, Any]:
    """Row counts of every table, and the full rows of the running totals a read used to move."""
    session.expire_all()
    counts = {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in metadata.sorted_tables
    }
    totals = {
        name: session.execute(sa.text(f"SELECT * FROM {name} ORDER BY id")).all()
        for name in ("allotments", "period_overages", "contracts")
    }
    return {"counts": counts, "totals": totals}


def _query_sets(now: datetime) -> list[dict[str, str]]:
    """Query parameters for each call: none, the current month, the next (ungranted) month."""
    this_month = f"{now.year:04d}-{now.month:02d}"
    following = now.replace(day=1, month=now.month % 12 + 1, year=now.year + now.month // 12)
    next_month = f"{following.year:04d}-{following.month:02d}"
    return [
        {"month": "2026-01", "period": "2026-01"},
        {"month": this_month, "at": now.isoformat(), "period": this_month},
        {"month": next_month, "at": following.replace(day=15).isoformat()},
    ]


def test_every_get_route_as_every_role_writes_nothing(
    client: TestClient,
    session: Session,
    finance: Headers,
    support: Headers,
    customer_headers: Any,
) -> None:
    ids = _world(client, finance)
    roles = {
        "finance": finance,
        "support": support,
        "customer": customer_headers(ids["customer_id"]),
    }
    paths = client.get("/openapi.json").json()["paths"]
    routes = [path for path, operations in paths.items() if "get" in operations]
    assert len(routes) >= 20, routes
    before = _snapshot(session)
    now = datetime.now(UTC)
    answered: dict[str, set[int]] = {}
    for template in routes:
        names = re.findall(r"{(\w+)}", template)
        url = template.format(**{name: ids[name] for name in names})
        declared = {
            p["name"]
            for p in paths[template]["get"].get("parameters", [])
            if p.get("in") == "query"
        }
        for role, headers in roles.items():
            for query in _query_sets(now):
                params = {k: v for k, v in query.items() if k in declared}
                response = client.get(url, params=params, headers=headers)
                assert response.status_code < 500, (template, role, params, response.text)
                answered.setdefault(template, set()).add(response.status_code)
    # The calls reached the code: every route answered 200 to someone at least once.
    silent = {t: s for t, s in answered.items() if 200 not in s}
    assert not silent, silent
    assert _snapshot(session) == before
