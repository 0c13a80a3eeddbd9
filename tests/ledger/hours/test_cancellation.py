"""Cancelling a contract takes back the hours granted beyond its new end."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ledger.contracts.service import lock_contract, plan_of
from ledger.hours.closing import close_period
from ledger.periods import month_period, parse_month
from tests.factories import customer_payload, plan_payload


def _contract(client: TestClient, finance: dict[str, str]) -> int:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()
    customer = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    response = client.post(
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan_code": plan["code"], "start_date": "2026-01-01"},
        headers=finance,
    )
    return int(response.json()["id"])


def test_cancel_mid_month_prorates_the_last_allotment(
    client: TestClient, finance: dict[str, str]
) -> None:
    contract = _contract(client, finance)
    assert (
        client.get(f"/v1/contracts/{contract}/statement?month=2026-01", headers=finance).json()[
            "granted_minutes"
        ]
        == 1200
    )
    response = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-01-15"}, headers=finance
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    january = client.get(f"/v1/contracts/{contract}/statement?month=2026-01", headers=finance)
    # 1200 × 15/31 = 580.6 min → 38.7 increments of 15 → 39 × 15 = 585
    assert january.json()["granted_minutes"] == 585
    # February is outside the contract now: its statement is refused, like its SLA report.
    assert (
        client.get(f"/v1/contracts/{contract}/statement?month=2026-02", headers=finance).status_code
        == 422
    )


def test_cancel_refused_before_work_or_invoiced_periods(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    contract = _contract(client, finance)
    client.post(
        f"/v1/contracts/{contract}/work-entries",
        json={"worked_on": "2026-03-10", "minutes": 60, "level": 3, "ticket_ref": "T-9"},
        headers=finance,
    )
    refused = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-03-01"}, headers=finance
    )
    assert refused.status_code == 409
    assert "reverse it" in refused.json()["detail"]
    row = lock_contract(session, contract)
    close_period(
        session,
        row,
        plan_of(session, row),
        month_period(parse_month("2026-02")),
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    refused = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-02-10"}, headers=finance
    )
    assert refused.status_code == 409
    assert "invoiced up to 2026-02-28" in refused.json()["detail"]
