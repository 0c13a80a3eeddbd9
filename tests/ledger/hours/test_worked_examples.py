"""SPEC worked examples 1–4, the hours parts, replayed through the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ledger.contracts.service import lock_contract, plan_of
from ledger.hours.closing import close_period
from ledger.periods import month_period, parse_month
from tests.factories import plan_payload

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _setup(client: TestClient, finance: dict[str, str], **contract: Any) -> int:
    plan = client.post("/v1/plans", json=plan_payload(), headers=finance).json()
    customer = client.post(
        "/v1/customers",
        json={
            "name": "C1 GmbH",
            "email": "ap@c1.example",
            "country": "DE",
            "timezone": "Europe/Berlin",
            "holiday_region": "DE-BE",
        },
        headers=finance,
    ).json()
    body = {"customer_id": customer["id"], "plan_code": plan["code"], "start_date": "2026-01-01"}
    response = client.post("/v1/contracts", json=body | contract, headers=finance)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _work(client: TestClient, headers: dict[str, str], contract_id: int, day: str, minutes: int):
    response = client.post(
        f"/v1/contracts/{contract_id}/work-entries",
        json={"worked_on": day, "minutes": minutes, "level": 3, "ticket_ref": f"T-{day}"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _statement(client: TestClient, headers: dict[str, str], contract_id: int, month: str):
    response = client.get(f"/v1/contracts/{contract_id}/statement?month={month}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _close(session: Session, contract_id: int, month: str) -> None:
    contract = lock_contract(session, contract_id)
    close_period(
        session, contract, plan_of(session, contract), month_period(parse_month(month)), now=NOW
    )


def test_example_1_january_overage(client: TestClient, finance: dict[str, str]) -> None:
    c1 = _setup(client, finance, committed_months=12)
    _work(client, finance, c1, "2026-01-05", 8 * 60)
    _work(client, finance, c1, "2026-01-12", 9 * 60)
    third = _work(client, finance, c1, "2026-01-20", 4 * 60 + 50)
    assert third["billable_minutes"] == 5 * 60
    january = _statement(client, finance, c1, "2026-01")
    assert january["granted_minutes"] == 20 * 60
    assert january["used_minutes"] == 20 * 60
    assert january["overage_minutes"] == 2 * 60
    assert january["remaining_minutes"] == 0
    assert sum(e["billable_minutes"] for e in january["entries"]) == 22 * 60
    assert third["coverage"] == [
        {
            "source": "allotment",
            "minutes": 180,
            "allotment_id": third["coverage"][0]["allotment_id"],
            "months": ["2026-01"],
        },
        {"source": "overage", "minutes": 120, "allotment_id": None, "months": None},
    ]


def test_example_2_pool_february_march(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    c1 = _setup(client, finance, committed_months=12)
    pool = client.post(
        f"/v1/contracts/{c1}/pools", json={"first_month": "2026-02"}, headers=finance
    )
    assert pool.status_code == 201, pool.text
    assert pool.json()["granted_minutes"] == 40 * 60
    assert pool.json()["expires_at"] == "2026-03-31T22:00:00Z"
    _work(client, finance, c1, "2026-02-10", 30 * 60)
    february = _statement(client, finance, c1, "2026-02")
    assert february["overage_minutes"] == 0
    assert february["pooled"] is True
    _close(session, c1, "2026-02")
    # Nothing expires at the end of February: on 1 March the pool still holds 10 h.
    early_march = client.get(
        f"/v1/contracts/{c1}/balance?at=2026-03-01T00:00:00%2B01:00", headers=finance
    ).json()
    assert early_march["remaining_minutes"] == 10 * 60
    assert early_march["allotments"][0]["expired_minutes"] == 0
    assert early_march["allotments"][0]["pooled"] is True
    assert early_march["allotments"][0]["months"] == ["2026-02", "2026-03"]
    _work(client, finance, c1, "2026-03-10", 12 * 60)
    march = _statement(client, finance, c1, "2026-03")
    assert march["overage_minutes"] == 2 * 60
    assert march["used_minutes"] == 40 * 60
    _close(session, c1, "2026-03")
    assert _statement(client, finance, c1, "2026-03")["expired_minutes"] == 0


def test_example_2_without_pool(client: TestClient, finance: dict[str, str]) -> None:
    c1 = _setup(client, finance, committed_months=12)
    _work(client, finance, c1, "2026-02-10", 30 * 60)
    _work(client, finance, c1, "2026-03-10", 12 * 60)
    assert _statement(client, finance, c1, "2026-02")["overage_minutes"] == 10 * 60
    march = _statement(client, finance, c1, "2026-03")
    assert march["overage_minutes"] == 0
    assert march["expired_minutes"] == 8 * 60  # March ended before NOW: shown as expired


def test_pooling_after_work_reconsumes_and_undo_restores(
    client: TestClient, finance: dict[str, str]
) -> None:
    c1 = _setup(client, finance, committed_months=12)
    _work(client, finance, c1, "2026-02-10", 30 * 60)
    assert _statement(client, finance, c1, "2026-02")["overage_minutes"] == 10 * 60
    assert (
        client.post(
            f"/v1/contracts/{c1}/pools", json={"first_month": "2026-02"}, headers=finance
        ).status_code
        == 201
    )
    assert _statement(client, finance, c1, "2026-02")["overage_minutes"] == 0
    assert client.delete(f"/v1/contracts/{c1}/pools/2026-02", headers=finance).status_code == 204
    february = _statement(client, finance, c1, "2026-02")
    assert february["overage_minutes"] == 10 * 60
    assert february["pooled"] is False


def test_example_3_april_expiry(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    c1 = _setup(client, finance, committed_months=12)
    _work(client, finance, c1, "2026-04-14", 15 * 60)
    april = _statement(client, finance, c1, "2026-04")
    assert (april["used_minutes"], april["expired_minutes"], april["remaining_minutes"]) == (
        15 * 60,
        5 * 60,
        0,
    )
    balance = client.get(
        f"/v1/contracts/{c1}/balance?at=2026-04-30T21:59:00Z", headers=finance
    ).json()
    assert balance["remaining_minutes"] == 5 * 60
    assert balance["allotments"][0]["expires_at"] == "2026-04-30T22:00:00Z"
    _close(session, c1, "2026-04")
    april = _statement(client, finance, c1, "2026-04")
    assert april["expired_minutes"] == 5 * 60


def test_example_4_partial_month(client: TestClient, finance: dict[str, str]) -> None:
    c2 = _setup(client, finance, start_date="2026-05-20")
    may = _statement(client, finance, c2, "2026-05")
    assert may["granted_minutes"] == 465  # 20 h × 12/31 = 464.5… → 465 (7 h 45)
    assert _statement(client, finance, c2, "2026-06")["granted_minutes"] == 20 * 60
