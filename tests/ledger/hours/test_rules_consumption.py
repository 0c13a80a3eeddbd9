"""SPEC "Hours" rules 4, 9 and 10 through the API: rounding up to the billing increment, the
after-hours multiplier, earliest-expiry-first consumption, one ledger row per allotment touched,
overage in the period of the work's date; what a work entry must carry; statements and lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.ledger.hours.helpers import (
    Headers,
    assert_ledger_balances,
    assert_problem,
    balance,
    contract_id,
    coverage,
    create_plan,
    error_fields,
    ledger_rows,
    list_entries,
    pool,
    post_work,
    post_work_response,
    reverse,
    statement,
)

JAN = ("2026-01",)
FEB = ("2026-02",)
MAR = ("2026-03",)


# Rule 4: rounding up to the plan's billing increment


@pytest.mark.parametrize(
    ("increment", "cases"),
    [
        pytest.param(15, [(1, 15), (15, 15), (16, 30), (290, 300)], id="15-min"),
        pytest.param(6, [(1, 6), (7, 12), (54, 54)], id="6-min"),
        pytest.param(60, [(1, 60), (60, 60), (61, 120)], id="60-min"),
    ],
)
def test_work_is_rounded_up_to_the_billing_increment(
    client: TestClient, finance: Headers, increment: int, cases: list[tuple[int, int]]
) -> None:
    plan = create_plan(client, finance, billing_increment_minutes=increment)
    contract = contract_id(client, finance, plan=plan)
    for minutes, billable in cases:
        entry = post_work(client, finance, contract, "2026-01-12", minutes)
        assert (entry["minutes"], entry["billable_minutes"]) == (minutes, billable)
        assert coverage(entry) == [("allotment", JAN, billable)]
    used = statement(client, finance, contract, "2026-01")["used_minutes"]
    assert used == sum(billable for _, billable in cases)


# Rule 10: the after-hours multiplier, applied before rounding, shown on the entry


# (case, level, started_at) for 50 min of work on a plan with ×1.5 for level 1 after hours.
AFTER_HOURS = [
    ("saturday-night", 1, "2026-01-10T22:00:00+01:00"),
    ("new-year-holiday", 1, "2026-01-01T10:00:00+01:00"),
    ("berlin-only-holiday", 1, "2027-03-08T10:00:00+01:00"),  # Women's Day: DE-BE, not DE
    ("before-opening", 1, "2026-01-13T08:59:00+01:00"),
    ("closing-instant", 1, "2026-01-13T18:00:00+01:00"),
    # Evaluated in the contract's zone: 17:30Z is 18:30 in Berlin.
    ("utc-evening-is-berlin-night", 1, "2026-01-13T17:30:00Z"),
]
BUSINESS_HOURS = [
    ("tuesday-10h", 1, "2026-01-13T10:00:00+01:00"),
    ("level-3-at-night", 3, "2026-01-10T22:00:00+01:00"),
    ("no-start-time", 1, None),
    ("opening-instant", 1, "2026-01-13T09:00:00+01:00"),
    ("utc-morning-is-berlin-day", 1, "2026-01-13T08:30:00Z"),  # 09:30 in Berlin
]


@pytest.mark.parametrize(
    ("cases", "multiplier", "billable"),
    [
        pytest.param(AFTER_HOURS, "1.5", 75, id="after-hours-50-to-75"),
        pytest.param(BUSINESS_HOURS, "1", 60, id="business-hours-50-to-60"),
    ],
)
def test_after_hours_multiplier(
    client: TestClient,
    finance: Headers,
    cases: list[tuple[str, int, str | None]],
    multiplier: str,
    billable: int,
    clock: Callable[[datetime], None],
) -> None:
    clock(datetime(2027, 3, 9, 12, tzinfo=UTC))  # after the latest case's date
    plan = create_plan(client, finance, after_hours_multiplier="1.5", after_hours_levels=[1])
    contract = contract_id(client, finance, plan=plan)
    for case, level, started_at in cases:
        worked_on = started_at[:10] if started_at else "2026-01-13"
        extra: dict[str, Any] = {"level": level, "ticket_ref": case}
        if started_at is not None:
            extra["started_at"] = started_at
        entry = post_work(client, finance, contract, worked_on, 50, **extra)
        assert (entry["multiplier"], entry["billable_minutes"]) == (multiplier, billable), case
        shown = statement(client, finance, contract, worked_on[:7])["entries"]
        assert [
            (e["multiplier"], e["billable_minutes"]) for e in shown if e["id"] == entry["id"]
        ] == [(multiplier, billable)], case


def test_multiplier_applies_before_rounding(client: TestClient, finance: Headers) -> None:
    """10 min × 1.25 = 12.5 → 15, where rounding first would give 15 × 1.25 = 18.75."""
    plan = create_plan(client, finance, after_hours_multiplier="1.25")
    contract = contract_id(client, finance, plan=plan)
    entry = post_work(
        client, finance, contract, "2026-01-10", 10, started_at="2026-01-10T22:00:00+01:00"
    )
    assert (entry["multiplier"], entry["billable_minutes"]) == ("1.25", 15)


def test_a_plan_without_multiplier_counts_night_work_as_is(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    entry = post_work(
        client, finance, contract, "2026-01-10", 50, level=1, started_at="2026-01-10T22:00:00Z"
    )
    assert (entry["multiplier"], entry["billable_minutes"]) == ("1", 60)


# Rule 4: earliest expiry first, oldest grant first on a tie; rule 9: one row per allotment


def test_pool_work_in_the_second_month_draws_the_first_months_allotment_first(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    march = post_work(client, finance, contract, "2026-03-05", 300)
    # Both allotments of a pool expire at the same instant: February was granted first.
    assert coverage(march) == [("allotment", FEB, 300)]
    february = post_work(client, finance, contract, "2026-02-20", 20 * 60)
    assert coverage(february) == [("allotment", FEB, 900), ("allotment", MAR, 300)]
    assert ledger_rows(session, february["id"]) == {("use", None): 2}
    last = post_work(client, finance, contract, "2026-02-21", 1005)
    assert coverage(last) == [("allotment", MAR, 900), ("overage", None, 105)]
    assert ledger_rows(session, last["id"]) == {("use", None): 1, ("overage", "overage"): 1}
    assert_ledger_balances(session, contract)


def test_one_ledger_row_per_allotment_touched(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    covered = post_work(client, finance, contract, "2026-01-05", 19 * 60)
    assert coverage(covered) == [("allotment", JAN, 19 * 60)]
    assert ledger_rows(session, covered["id"]) == {("use", None): 1}
    split = post_work(client, finance, contract, "2026-01-06", 90)
    assert coverage(split) == [("allotment", JAN, 60), ("overage", None, 30)]
    assert ledger_rows(session, split["id"]) == {("use", None): 1, ("overage", "overage"): 1}
    uncovered = post_work(client, finance, contract, "2026-01-07", 45)
    assert coverage(uncovered) == [("overage", None, 45)]
    assert ledger_rows(session, uncovered["id"]) == {("overage", "overage"): 1}
    assert all(c["allotment_id"] is not None for c in covered["coverage"])
    assert_ledger_balances(session, contract)


def test_overage_belongs_to_the_period_of_the_work_date(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-31", 21 * 60)
    post_work(client, finance, contract, "2026-02-01", 60)
    january = statement(client, finance, contract, "2026-01")
    february = statement(client, finance, contract, "2026-02")
    assert (january["used_minutes"], january["overage_minutes"]) == (1200, 60)
    assert (february["used_minutes"], february["overage_minutes"]) == (60, 0)
    assert balance(client, finance, contract, "2026-01-15T12:00:00Z")["overage_minutes"] == 60
    assert balance(client, finance, contract, "2026-02-15T12:00:00Z")["overage_minutes"] == 0


def test_each_month_draws_only_its_own_allotment(client: TestClient, finance: Headers) -> None:
    """Without a pool, February's unused hours do not cover January's overage."""
    contract = contract_id(client, finance)
    january = post_work(client, finance, contract, "2026-01-20", 22 * 60)
    assert coverage(january) == [("allotment", JAN, 1200), ("overage", None, 120)]
    assert statement(client, finance, contract, "2026-02")["used_minutes"] == 0


# What a work entry must carry


BAD_WORK: list[tuple[str, dict[str, Any], str]] = [
    ("zero-minutes", {"minutes": 0}, "minutes"),
    ("negative-minutes", {"minutes": -15}, "minutes"),
    ("level-5", {"level": 5}, "level"),
    ("level-0", {"level": 0}, "level"),
    ("missing-ticket-ref", {"ticket_ref": None}, "ticket_ref"),
    ("empty-ticket-ref", {"ticket_ref": ""}, "ticket_ref"),
    ("no-such-day", {"worked_on": "2026-02-30"}, "worked_on"),
    ("naive-start", {"started_at": "2026-01-10T22:00:00"}, "started_at"),
    ("unknown-field", {"billable_minutes": 1}, "billable_minutes"),
]


def test_bad_work_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    for case, change, field in BAD_WORK:
        body = {"worked_on": "2026-01-12", "minutes": 60, "level": 2, "ticket_ref": "T-1"}
        body.update(change)
        body = {k: v for k, v in body.items() if v is not None}
        response = client.post(f"/v1/contracts/{contract}/work-entries", json=body, headers=finance)
        assert field in error_fields(assert_problem(response, 422)), case
    assert list_entries(client, finance, contract) == []


@pytest.mark.parametrize(
    ("worked_on", "contract"),
    [
        pytest.param("2025-12-31", {}, id="before-start"),
        pytest.param("2026-05-19", {"start_date": "2026-05-20"}, id="day-before-mid-month-start"),
        pytest.param("2026-06-11", {"end_date": "2026-06-10"}, id="after-end"),
    ],
)
def test_work_outside_the_contract_is_422_naming_worked_on(
    client: TestClient, finance: Headers, worked_on: str, contract: dict[str, Any]
) -> None:
    cid = contract_id(client, finance, **contract)
    problem = assert_problem(
        post_work_response(client, finance, cid, worked_on, 60), 422, mentions="worked_on"
    )
    assert error_fields(problem) == ["worked_on"]
    assert list_entries(client, finance, cid) == []


def test_work_on_the_first_and_last_day_of_the_contract_is_accepted(
    client: TestClient, finance: Headers
) -> None:
    cid = contract_id(client, finance, start_date="2026-05-20", end_date="2026-06-10")
    assert coverage(post_work(client, finance, cid, "2026-05-20", 60)) == [
        ("allotment", ("2026-05",), 60)
    ]
    assert coverage(post_work(client, finance, cid, "2026-06-10", 60)) == [
        ("allotment", ("2026-06",), 60)
    ]


def test_work_after_a_cancelled_contracts_end_is_422(client: TestClient, finance: Headers) -> None:
    cid = contract_id(client, finance)
    cancelled = client.post(
        f"/v1/contracts/{cid}/cancel", json={"end_date": "2026-03-31"}, headers=finance
    )
    assert cancelled.status_code == 200, cancelled.text
    post_work(client, finance, cid, "2026-03-31", 60)
    assert_problem(
        post_work_response(client, finance, cid, "2026-04-01", 60), 422, mentions="worked_on"
    )
    assert len(list_entries(client, finance, cid)) == 1


def test_work_on_an_unknown_contract_is_404(client: TestClient, finance: Headers) -> None:
    assert_problem(post_work_response(client, finance, 987654, "2026-01-12", 60), 404)


# Statements and lists


def test_statement_lists_every_entry_of_the_month_with_its_coverage(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    first = post_work(client, finance, contract, "2026-01-05", 19 * 60)
    second = post_work(client, finance, contract, "2026-01-31", 2 * 60)
    post_work(client, finance, contract, "2026-02-01", 30)
    wrong = post_work(client, finance, contract, "2026-01-20", 45)
    reversal = reverse(client, finance, wrong["id"]).json()
    january = statement(client, finance, contract, "2026-01")
    assert [(e["id"], e["kind"]) for e in january["entries"]] == [
        (first["id"], "work"),
        (wrong["id"], "work"),
        (reversal["id"], "reversal"),
        (second["id"], "work"),
    ]
    by_id = {e["id"]: e for e in january["entries"]}
    assert coverage(by_id[first["id"]]) == [("allotment", JAN, 1140)]
    assert coverage(by_id[second["id"]]) == [("allotment", JAN, 60), ("overage", None, 60)]
    assert by_id[wrong["id"]]["reversed_by_id"] == reversal["id"]
    assert (january["used_minutes"], january["overage_minutes"]) == (1200, 60)
    assert sum(e["billable_minutes"] for e in january["entries"]) == 1200 + 60
    assert january["month"] == "2026-01" and january["late_minutes"] == 0


def test_statement_of_an_ended_month_shows_the_leftover_as_expired(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-03-03", 15 * 60)
    march = statement(client, finance, contract, "2026-03")
    assert (
        march["granted_minutes"],
        march["used_minutes"],
        march["expired_minutes"],
        march["remaining_minutes"],
    ) == (1200, 900, 300, 0)


def test_work_entries_are_filtered_by_month_and_paginated(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    january = [post_work(client, finance, contract, f"2026-01-{d:02d}", 60)["id"] for d in (5, 31)]
    february = post_work(client, finance, contract, "2026-02-01", 60)["id"]
    january.append(post_work(client, finance, contract, "2026-01-01", 60)["id"])
    url = f"/v1/contracts/{contract}/work-entries"
    first = client.get(url, params={"month": "2026-01", "limit": 2}, headers=finance).json()
    assert [e["id"] for e in first["items"]] == january[:2]
    assert first["next_cursor"] is not None
    rest = client.get(
        url,
        params={"month": "2026-01", "limit": 2, "cursor": first["next_cursor"]},
        headers=finance,
    ).json()
    assert [e["id"] for e in rest["items"]] == january[2:]
    assert rest["next_cursor"] is None
    assert [e["id"] for e in list_entries(client, finance, contract, "2026-02")] == [february]
    assert list_entries(client, finance, contract, "2026-03") == []
    assert len(list_entries(client, finance, contract)) == 4
    assert all(e["coverage"] for e in first["items"] + rest["items"])


def test_a_bad_month_is_422(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    for month in ("2026-13", "2026-1", "January"):
        for path in ("work-entries", "statement"):
            response = client.get(
                f"/v1/contracts/{contract}/{path}", params={"month": month}, headers=finance
            )
            assert "month" in error_fields(assert_problem(response, 422)), (path, month)
