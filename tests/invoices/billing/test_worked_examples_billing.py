"""SPEC worked examples 1–4: the invoices, through the HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import billing_run, customer_payload, plan_payload


def _contract(client: TestClient, finance: dict[str, str], plan_code: str, **fields: Any) -> int:
    customer = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    body = {"customer_id": customer["id"], "plan_code": plan_code, **fields}
    response = client.post("/v1/contracts", json=body, headers=finance)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _work(
    client: TestClient, finance: dict[str, str], contract_id: int, day: str, minutes: int
) -> None:
    response = client.post(
        f"/v1/contracts/{contract_id}/work-entries",
        json={"worked_on": day, "minutes": minutes, "level": 2, "ticket_ref": "T-1"},
        headers=finance,
    )
    assert response.status_code == 201, response.text


def _invoices(
    client: TestClient, finance: dict[str, str], contract_id: int
) -> dict[str, dict[str, Any]]:
    response = client.get(f"/v1/invoices?contract_id={contract_id}&limit=50", headers=finance)
    assert response.status_code == 200, response.text
    return {inv["period"]: inv for inv in response.json()["items"]}


def _lines(invoice: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["kind"], line["amount"]) for line in invoice["lines"]]


def test_examples_1_to_4(client: TestClient, finance: dict[str, str]) -> None:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    c1 = _contract(client, finance, plan, start_date="2026-01-01", committed_months=12)
    # 1. January: 8 h, 9 h, 4 h 50 (→ 5 h).
    for day, minutes in (("2026-01-05", 480), ("2026-01-12", 540), ("2026-01-20", 290)):
        _work(client, finance, c1, day, minutes)
    # 2. February + March pooled; February 30 h, March 12 h.
    assert (
        client.post(
            f"/v1/contracts/{c1}/pools", json={"first_month": "2026-02"}, headers=finance
        ).status_code
        == 201
    )
    _work(client, finance, c1, "2026-02-10", 30 * 60)
    _work(client, finance, c1, "2026-03-10", 12 * 60)
    # 3. April: 15 h, and a 300-minute outage of the platform.
    _work(client, finance, c1, "2026-04-14", 15 * 60)
    incident = client.post(
        "/v1/incidents",
        json={
            "components": ["platform"],
            "started_at": "2026-04-08T10:00:00+02:00",
            "ended_at": "2026-04-08T15:00:00+02:00",
            "scheduled": False,
            "description": "database failover",
        },
        headers=finance,
    )
    assert incident.status_code == 201, incident.text

    run = billing_run(client, finance, "2026-04")
    assert run["status"] == "completed", run
    invoices = _invoices(client, finance, c1)
    assert sorted(invoices) == ["2026-01", "2026-02", "2026-03", "2026-04"]

    assert _lines(invoices["2026-01"]) == [
        ("fee", "2000.00"),
        ("discount", "-200.00"),
        ("overage", "220.00"),
    ]
    assert invoices["2026-01"]["total"] == "2020.00"
    assert invoices["2026-02"]["total"] == "1800.00"
    assert _lines(invoices["2026-03"])[-1] == ("overage", "220.00")
    assert invoices["2026-03"]["total"] == "2020.00"
    assert _lines(invoices["2026-04"]) == [
        ("fee", "2000.00"),
        ("discount", "-200.00"),
        ("service_credit", "-180.00"),
    ]
    assert invoices["2026-04"]["total"] == "1620.00"
    numbers = [invoices[p]["number"] for p in sorted(invoices)]
    assert len(set(numbers)) == 4 and all(n for n in numbers)

    # 4. C2 (no annual term) starts 2026-05-20: May fee 2,000.00 × 12/31 = 774.19.
    c2 = _contract(client, finance, plan, start_date="2026-05-20")
    assert billing_run(client, finance, "2026-05")["status"] == "completed"
    may = _invoices(client, finance, c2)["2026-05"]
    assert _lines(may) == [("fee", "774.19")]
    assert may["total"] == "774.19"

    # Running a finished period again changes nothing.
    before = _invoices(client, finance, c1)
    again = billing_run(client, finance, "2026-05")
    assert again["invoices"] == 0
    assert _invoices(client, finance, c1) == before


def test_without_pool_february_overage(client: TestClient, finance: dict[str, str]) -> None:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    c1 = _contract(client, finance, plan, start_date="2026-01-01", committed_months=12)
    _work(client, finance, c1, "2026-02-10", 30 * 60)
    _work(client, finance, c1, "2026-03-10", 12 * 60)
    billing_run(client, finance, "2026-03")
    invoices = _invoices(client, finance, c1)
    assert ("overage", "1100.00") in _lines(invoices["2026-02"])
    assert invoices["2026-03"]["total"] == "1800.00"


def test_dry_run_writes_nothing(client: TestClient, finance: dict[str, str]) -> None:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()["code"]
    c1 = _contract(client, finance, plan, start_date="2026-01-01", committed_months=12)
    _work(client, finance, c1, "2026-01-05", 22 * 60)
    preview = client.post(
        "/v1/billing-runs", json={"period": "2026-01", "dry_run": True}, headers=finance
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["dry_run"] is True and body["id"] is None
    assert [p["total"] for p in body["previews"] if p["contract_id"] == c1] == ["2020.00"]
    assert _invoices(client, finance, c1) == {}
    statement = client.get(f"/v1/contracts/{c1}/statement?month=2026-01", headers=finance).json()
    assert statement["used_minutes"] == 1200
