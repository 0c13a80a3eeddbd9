"""SPEC "Hours" rules 1 and 2 through the API: allotments pro-rated by days and rounded half-up
to the increment, monthly and quarterly periods, expiry at the last instant of the period in the
contract's time zone, no roll-over, leap years."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.hours.models import LedgerEntry
from tests.ledger.hours.helpers import (
    Headers,
    assert_ledger_balances,
    assert_problem,
    balance,
    close,
    contract_id,
    coverage,
    create_plan,
    post_work,
    post_work_response,
    reverse,
    statement,
)

Q1 = ("2026-01", "2026-02", "2026-03")


def outside(client: TestClient, headers: Headers, contract: int, month: str) -> bool:
    """A month outside the contract has no statement (422, like availability)."""
    response = client.get(f"/v1/contracts/{contract}/statement?month={month}", headers=headers)
    return response.status_code == 422


def _just_before(instant: str) -> str:
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00")) - timedelta(seconds=1)
    return moment.isoformat().replace("+00:00", "Z")


# Rule 1: pro-rated by days, rounded half-up to the billing increment


def test_a_contract_starting_mid_month_gets_its_days_share(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance, start_date="2026-05-20")
    # 1200 × 12/31 = 464.5… min = 30.97 increments → 31 × 15 = 465 (SPEC worked example 4)
    assert statement(client, finance, contract, "2026-05")["granted_minutes"] == 465
    assert statement(client, finance, contract, "2026-06")["granted_minutes"] == 1200
    assert outside(client, finance, contract, "2026-04")


def test_a_contract_ending_mid_month_gets_its_days_share(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance, end_date="2026-06-10")
    # 1200 × 10/30 = 400 min = 26.67 increments → 27 × 15 = 405
    assert statement(client, finance, contract, "2026-06")["granted_minutes"] == 405
    assert statement(client, finance, contract, "2026-05")["granted_minutes"] == 1200
    assert outside(client, finance, contract, "2026-07")
    assert balance(client, finance, contract, "2026-07-15T12:00:00Z")["allotments"] == []


def test_a_cancelled_contract_gets_the_share_of_its_last_month(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    response = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-06-10"}, headers=finance
    )
    assert response.status_code == 200, response.text
    assert statement(client, finance, contract, "2026-06")["granted_minutes"] == 405
    assert outside(client, finance, contract, "2026-07")


def test_cancelling_after_the_allotments_were_granted_still_prorates(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    # Reading a balance grants every allotment up to that date (June … August).
    assert balance(client, finance, contract, "2026-08-05T12:00:00Z")["remaining_minutes"] == 1200
    response = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-06-10"}, headers=finance
    )
    assert response.status_code == 200, response.text
    assert statement(client, finance, contract, "2026-06")["granted_minutes"] == 405
    assert outside(client, finance, contract, "2026-08")


def test_cancelling_after_reversing_the_later_work(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    later = post_work(client, finance, contract, "2026-07-06", 60)
    url = f"/v1/contracts/{contract}/cancel"
    assert_problem(client.post(url, json={"end_date": "2026-06-10"}, headers=finance), 409)
    assert reverse(client, finance, later["id"]).status_code == 201
    response = client.post(url, json={"end_date": "2026-06-10"}, headers=finance)
    assert response.status_code == 200, response.text
    assert statement(client, finance, contract, "2026-06")["granted_minutes"] == 405


def test_proration_rounds_to_a_coarser_increment(client: TestClient, finance: Headers) -> None:
    plan = create_plan(client, finance, billing_increment_minutes=60)
    contract = contract_id(client, finance, plan=plan, start_date="2026-05-20")
    # 464.5… min = 7.74 h → 8 × 60
    assert statement(client, finance, contract, "2026-05")["granted_minutes"] == 480


def test_proration_rounds_half_up(client: TestClient, finance: Headers) -> None:
    plan = create_plan(client, finance, included_hours="10", billing_increment_minutes=40)
    contract = contract_id(client, finance, plan=plan, start_date="2026-06-22")
    # 600 × 9/30 = 180 min = 4.5 increments of 40 → 5 (half-up; half-even would give 4 → 160)
    assert statement(client, finance, contract, "2026-06")["granted_minutes"] == 200


def test_leap_year_february(
    client: TestClient, finance: Headers, clock: Callable[[datetime], None]
) -> None:
    clock(datetime(2028, 2, 29, 23, 30, tzinfo=UTC))  # 00:30 on 1 March in Berlin
    contract = contract_id(client, finance, start_date="2028-02-15")
    # 1200 × 15/29 = 620.7 min = 41.4 increments → 41 × 15 = 615
    assert statement(client, finance, contract, "2028-02")["granted_minutes"] == 615
    leap_day = post_work(client, finance, contract, "2028-02-29", 60)
    assert coverage(leap_day) == [("allotment", ("2028-02",), 60)]
    assert [e["id"] for e in statement(client, finance, contract, "2028-02")["entries"]] == [
        leap_day["id"]
    ]
    assert statement(client, finance, contract, "2028-03")["entries"] == []
    february = balance(client, finance, contract, "2028-02-29T22:59:59Z")
    assert february["allotments"][0]["months"] == ["2028-02"]
    assert february["allotments"][0]["expires_at"] == "2028-02-29T23:00:00Z"
    assert february["remaining_minutes"] == 615 - 60


# Quarterly plans


def test_a_quarterly_allotment_serves_every_month_of_its_quarter(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="32", pooling_allowed=False
    )
    contract = contract_id(client, finance, plan=plan)
    january = post_work(client, finance, contract, "2026-01-20", 30 * 60)
    february = post_work(client, finance, contract, "2026-02-10", 3 * 60)
    assert coverage(january) == [("allotment", Q1, 1800)]
    assert coverage(february) == [("allotment", Q1, 120), ("overage", None, 60)]
    for month in Q1:
        shown = statement(client, finance, contract, month)
        assert (shown["month"], shown["period"]) == (month, "2026-03")
        assert (shown["granted_minutes"], shown["used_minutes"]) == (32 * 60, 32 * 60)
    # Overage is shown in the month its work is dated in.
    assert [statement(client, finance, contract, m)["overage_minutes"] for m in Q1] == [0, 60, 0]
    assert balance(client, finance, contract, "2026-03-15T12:00:00Z")["overage_minutes"] == 60
    april = statement(client, finance, contract, "2026-04")
    assert (april["period"], april["granted_minutes"], april["used_minutes"]) == (
        "2026-06",
        32 * 60,
        0,
    )


def test_a_quarterly_allotment_expires_at_the_end_of_the_quarter(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="32", pooling_allowed=False
    )
    contract = contract_id(client, finance, plan=plan)
    post_work(client, finance, contract, "2026-02-10", 600)
    # Berlin switched to summer time on 29 March: the quarter ends at 22:00Z.
    before = balance(client, finance, contract, "2026-03-31T21:59:59Z")
    assert [
        (a["months"], a["remaining_minutes"], a["expires_at"]) for a in before["allotments"]
    ] == [(list(Q1), 1920 - 600, "2026-03-31T22:00:00Z")]
    after = balance(client, finance, contract, "2026-03-31T22:00:00Z")
    assert [(a["months"], a["remaining_minutes"]) for a in after["allotments"]] == [
        (["2026-04", "2026-05", "2026-06"], 1920)
    ]


def test_a_quarterly_contract_starting_mid_quarter_is_prorated_over_the_quarter(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="32", pooling_allowed=False
    )
    contract = contract_id(client, finance, plan=plan, start_date="2026-02-15")
    # 1920 × 45/90 days = 960
    assert statement(client, finance, contract, "2026-03")["granted_minutes"] == 960
    assert statement(client, finance, contract, "2026-04")["granted_minutes"] == 1920


# Rule 2: expiry at the last instant of the period in the contract's time zone


@pytest.mark.parametrize(
    ("timezone", "month", "expires_at", "next_month"),
    [
        pytest.param("Europe/Berlin", "2026-01", "2026-01-31T23:00:00Z", "2026-02", id="berlin"),
        pytest.param(
            "Europe/Berlin", "2026-04", "2026-04-30T22:00:00Z", "2026-05", id="berlin-summer"
        ),
        pytest.param(
            "America/Sao_Paulo", "2026-01", "2026-02-01T03:00:00Z", "2026-02", id="sao-paulo"
        ),
        pytest.param("Asia/Kolkata", "2026-01", "2026-01-31T18:30:00Z", "2026-02", id="kolkata"),
        pytest.param(
            "Pacific/Auckland", "2026-01", "2026-01-31T11:00:00Z", "2026-02", id="auckland"
        ),
    ],
)
def test_hours_expire_at_the_last_instant_of_the_period_in_the_contracts_zone(
    client: TestClient,
    finance: Headers,
    timezone: str,
    month: str,
    expires_at: str,
    next_month: str,
) -> None:
    contract = contract_id(client, finance, timezone=timezone)
    post_work(client, finance, contract, f"{month}-10", 300)
    before = balance(client, finance, contract, _just_before(expires_at))
    assert before["period"] == month
    assert [
        (a["months"], a["granted_minutes"], a["used_minutes"], a["remaining_minutes"])
        for a in before["allotments"]
    ] == [([month], 1200, 300, 900)]
    assert before["allotments"][0]["expires_at"] == expires_at
    assert before["remaining_minutes"] == 900
    at = balance(client, finance, contract, expires_at)
    assert at["period"] == next_month
    # Nothing rolls over: the next month starts with its own 20 h only.
    assert [
        (a["months"], a["granted_minutes"], a["remaining_minutes"]) for a in at["allotments"]
    ] == [([next_month], 1200, 1200)]
    assert at["remaining_minutes"] == 1200


def test_balance_at_an_instant_given_with_an_offset(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    late_evening = balance(client, finance, contract, "2026-01-31T23:59:59+01:00")
    assert [a["months"] for a in late_evening["allotments"]] == [["2026-01"]]
    midnight = balance(client, finance, contract, "2026-02-01T00:00:00+01:00")
    assert [a["months"] for a in midnight["allotments"]] == [["2026-02"]]


def test_balance_needs_an_instant_with_an_offset(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    response = client.get(
        f"/v1/contracts/{contract}/balance", params={"at": "2026-01-15T12:00:00"}, headers=finance
    )
    assert_problem(response, 422)


def test_closing_a_period_writes_the_expiry(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-10", 15 * 60)
    close(session, contract, "2026-01")
    expiries = session.scalars(
        select(LedgerEntry).where(
            col(LedgerEntry.contract_id) == contract, col(LedgerEntry.kind) == "expire"
        )
    ).all()
    assert [(e.minutes, e.period_start.isoformat()) for e in expiries] == [(300, "2026-01-01")]
    january = statement(client, finance, contract, "2026-01")
    assert (january["used_minutes"], january["expired_minutes"], january["remaining_minutes"]) == (
        900,
        300,
        0,
    )
    assert statement(client, finance, contract, "2026-02")["granted_minutes"] == 1200
    assert_ledger_balances(session, contract)


def test_work_in_a_month_after_the_contract_ended_is_refused_even_on_a_quarter(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="32", pooling_allowed=False
    )
    contract = contract_id(client, finance, plan=plan, end_date="2026-02-14")
    # 1920 × 45/90 → 960, and nothing after 14 February even inside the quarter.
    assert statement(client, finance, contract, "2026-01")["granted_minutes"] == 960
    assert_problem(post_work_response(client, finance, contract, "2026-02-15", 60), 422)
