"""SPEC "Hours" rule 6 through the API: corrections are reversal entries; a reversal reduces
overage first, then returns minutes to the allotments they came from.

Months of 2099 are used where the returned minutes must still be spendable (their allotment
has not expired at the service's "now"); months of 2026 where it has."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.ledger.hours.helpers import (
    Headers,
    assert_ledger_balances,
    assert_problem,
    balance,
    close,
    contract_id,
    coverage,
    ledger_rows,
    list_entries,
    pool,
    post_work,
    reverse,
    statement,
)

JAN = ("2026-01",)
Y99_JAN = ("2099-01",)
Y99_FEB = ("2099-02",)


@pytest.fixture(autouse=True)
def _in_2099(clock: Callable[[datetime], None]) -> None:
    """Late January 2099: work of January 2099 is in the past and its hours still valid."""
    clock(datetime(2099, 1, 25, 12, tzinfo=UTC))


def _in_february(clock: Callable[[datetime], None]) -> None:
    clock(datetime(2099, 2, 15, 12, tzinfo=UTC))


def _reverse(client: TestClient, headers: Headers, work_entry_id: int) -> dict:
    response = reverse(client, headers, work_entry_id)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_reversal_is_a_new_negative_entry_that_gives_the_minutes_back(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance, start_date="2099-01-01")
    original = post_work(client, finance, contract, "2099-01-10", 590, level=2)
    assert balance(client, finance, contract, "2099-01-15T12:00:00Z")["remaining_minutes"] == 600
    reversal = _reverse(client, finance, original["id"])
    assert reversal["id"] != original["id"]
    assert (reversal["kind"], reversal["reverses_id"], reversal["worked_on"]) == (
        "reversal",
        original["id"],
        "2099-01-10",
    )
    assert (reversal["minutes"], reversal["billable_minutes"]) == (-590, -600)
    assert (reversal["level"], reversal["ticket_ref"]) == (2, original["ticket_ref"])
    assert coverage(reversal) == [("allotment", Y99_JAN, -600)]
    assert ledger_rows(session, reversal["id"]) == {("use", None): 1}
    # The original stays as it was, pointing at its reversal.
    again = client.get(f"/v1/work-entries/{original['id']}", headers=finance).json()
    assert again["reversed_by_id"] == reversal["id"]
    assert (again["billable_minutes"], coverage(again)) == (600, [("allotment", Y99_JAN, 600)])
    shown = balance(client, finance, contract, "2099-01-15T12:00:00Z")
    assert (shown["remaining_minutes"], shown["allotments"][0]["used_minutes"]) == (1200, 0)
    assert [e["kind"] for e in list_entries(client, finance, contract)] == ["work", "reversal"]
    assert_ledger_balances(session, contract)


def test_a_reversal_reduces_overage_first(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    big = post_work(client, finance, contract, "2026-01-10", 20 * 60)
    small = post_work(client, finance, contract, "2026-01-20", 2 * 60)
    assert coverage(small) == [("overage", None, 120)]
    reversal = _reverse(client, finance, big["id"])
    assert coverage(reversal) == [("allotment", JAN, -1080), ("overage", None, -120)]
    january = statement(client, finance, contract, "2026-01")
    assert (january["overage_minutes"], january["used_minutes"]) == (0, 120)
    # January has ended: what is left of its 20 h reads as expired.
    assert (january["expired_minutes"], january["remaining_minutes"]) == (1080, 0)
    assert balance(client, finance, contract, "2026-01-25T12:00:00Z")["overage_minutes"] == 0
    assert_ledger_balances(session, contract)


def test_a_reversal_in_an_open_month_makes_the_hours_spendable_again(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance, start_date="2099-01-01")
    first = post_work(client, finance, contract, "2099-01-05", 600)
    second = post_work(client, finance, contract, "2099-01-06", 900)
    third = post_work(client, finance, contract, "2099-01-07", 300)
    assert coverage(second) == [("allotment", Y99_JAN, 600), ("overage", None, 300)]
    assert coverage(third) == [("overage", None, 300)]
    # 600 overage goes first, the other 300 return to January.
    assert coverage(_reverse(client, finance, second["id"])) == [
        ("allotment", Y99_JAN, -300),
        ("overage", None, -600),
    ]
    shown = balance(client, finance, contract, "2099-01-15T12:00:00Z")
    assert (shown["remaining_minutes"], shown["overage_minutes"]) == (300, 0)
    assert coverage(_reverse(client, finance, third["id"])) == [("allotment", Y99_JAN, -300)]
    shown = balance(client, finance, contract, "2099-01-15T12:00:00Z")
    assert (shown["remaining_minutes"], shown["overage_minutes"]) == (600, 0)
    again = post_work(client, finance, contract, "2099-01-20", 600)
    assert coverage(again) == [("allotment", Y99_JAN, 600)]
    january = statement(client, finance, contract, "2099-01")
    assert (january["used_minutes"], january["overage_minutes"], january["remaining_minutes"]) == (
        1200,
        0,
        0,
    )
    assert sum(e["billable_minutes"] for e in january["entries"]) == 1200
    assert first["id"] in [e["id"] for e in january["entries"]]
    assert_ledger_balances(session, contract)


def test_correcting_an_entry_before_the_billing_run_keeps_the_hours(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    wrong = post_work(client, finance, contract, "2026-01-30", 20 * 60)
    _reverse(client, finance, wrong["id"])
    right = post_work(client, finance, contract, "2026-01-30", 2 * 60)
    assert coverage(right) == [("allotment", JAN, 120)]
    assert statement(client, finance, contract, "2026-01")["overage_minutes"] == 0


def test_without_reversal_a_late_posted_entry_of_an_open_month_draws_its_hours(
    client: TestClient, finance: Headers
) -> None:
    """The reading the test above relies on: until the billing run closes January, work dated
    in January still draws on January's hours."""
    contract = contract_id(client, finance)
    assert coverage(post_work(client, finance, contract, "2026-01-30", 2 * 60)) == [
        ("allotment", JAN, 120)
    ]


def test_a_reversal_returns_minutes_to_the_allotments_they_came_from(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance, start_date="2099-01-01")
    assert pool(client, finance, contract, "2099-01").status_code == 201
    post_work(client, finance, contract, "2099-01-05", 900)
    split = post_work(client, finance, contract, "2099-01-06", 600)
    assert coverage(split) == [("allotment", Y99_JAN, 300), ("allotment", Y99_FEB, 300)]
    reversal = _reverse(client, finance, split["id"])
    assert coverage(reversal) == [("allotment", Y99_JAN, -300), ("allotment", Y99_FEB, -300)]


def test_a_reversal_in_the_open_second_month_of_a_pool_whose_first_month_is_closed(
    client: TestClient, finance: Headers, session: Session, clock: Callable[[datetime], None]
) -> None:
    _in_february(clock)
    contract = contract_id(client, finance, start_date="2099-01-01")
    assert pool(client, finance, contract, "2099-01").status_code == 201
    february = post_work(client, finance, contract, "2099-02-10", 300)
    assert coverage(february) == [("allotment", Y99_JAN, 300)]
    close(session, contract, "2099-01")
    assert coverage(_reverse(client, finance, february["id"])) == [("allotment", Y99_JAN, -300)]
    assert balance(client, finance, contract, "2099-02-15T12:00:00Z")["remaining_minutes"] == 2400
    assert_ledger_balances(session, contract)


def test_reversing_work_that_a_pool_reconsumed(
    client: TestClient, finance: Headers, session: Session, clock: Callable[[datetime], None]
) -> None:
    _in_february(clock)
    contract = contract_id(client, finance, start_date="2099-01-01")
    entry = post_work(client, finance, contract, "2099-02-10", 30 * 60)
    assert statement(client, finance, contract, "2099-02")["overage_minutes"] == 600
    assert pool(client, finance, contract, "2099-02").status_code == 201
    _reverse(client, finance, entry["id"])
    shown = balance(client, finance, contract, "2099-02-15T12:00:00Z")
    assert (shown["remaining_minutes"], shown["overage_minutes"]) == (2400, 0)
    assert_ledger_balances(session, contract)


def test_reversing_twice_is_409(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    entry = post_work(client, finance, contract, "2026-01-10", 60)
    _reverse(client, finance, entry["id"])
    assert_problem(reverse(client, finance, entry["id"]), 409, title="Already reversed")
    assert [e["kind"] for e in list_entries(client, finance, contract)] == ["work", "reversal"]


def test_reversing_a_reversal_is_422(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    entry = post_work(client, finance, contract, "2026-01-10", 60)
    reversal = _reverse(client, finance, entry["id"])
    assert_problem(reverse(client, finance, reversal["id"]), 422, mentions="revers")
    assert len(list_entries(client, finance, contract)) == 2


def test_reversing_work_of_a_closed_period_is_409(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    entry = post_work(client, finance, contract, "2026-01-10", 21 * 60)
    close(session, contract, "2026-01")
    assert_problem(reverse(client, finance, entry["id"]), 409, mentions="invoiced")
    january = statement(client, finance, contract, "2026-01")
    assert (january["used_minutes"], january["overage_minutes"]) == (1200, 60)
    assert len(list_entries(client, finance, contract)) == 1


def test_reversing_late_work_removes_its_late_minutes(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-10", 21 * 60)
    close(session, contract, "2026-01")
    late = post_work(client, finance, contract, "2026-01-12", 80, late=True)
    assert statement(client, finance, contract, "2026-01")["late_minutes"] == 90
    reversal = _reverse(client, finance, late["id"])
    assert (reversal["late"], reversal["billable_minutes"]) == (True, -90)
    assert coverage(reversal) == [("late", None, -90)]
    january = statement(client, finance, contract, "2026-01")
    assert (january["late_minutes"], january["used_minutes"], january["overage_minutes"]) == (
        0,
        1200,
        60,
    )
    assert_ledger_balances(session, contract)


def test_reversing_an_unknown_entry_is_404(client: TestClient, finance: Headers) -> None:
    assert_problem(reverse(client, finance, 987654), 404)
