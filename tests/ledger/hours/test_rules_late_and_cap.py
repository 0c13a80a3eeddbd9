"""SPEC "Hours" rules 5 and 7 through the API: late work in an invoiced period, the overage cap
and finance's approval beyond it, and plans without a package (on-demand)."""

from __future__ import annotations

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
Q1 = ("2026-01", "2026-02", "2026-03")


def _snapshot(client: TestClient, headers: Headers, contract: int, month: str) -> tuple:
    shown = statement(client, headers, contract, month)
    return (
        shown["used_minutes"],
        shown["overage_minutes"],
        shown["late_minutes"],
        [e["id"] for e in shown["entries"]],
        len(list_entries(client, headers, contract)),
    )


# Rule 7: late work


def test_work_in_an_invoiced_period_is_409_pointing_at_late(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-10", 60)
    close(session, contract, "2026-01")
    before = _snapshot(client, finance, contract, "2026-01")
    response = post_work_response(client, finance, contract, "2026-01-31", 60)
    assert_problem(response, 409, title="Period already invoiced", mentions="late")
    assert _snapshot(client, finance, contract, "2026-01") == before


def test_late_work_consumes_nothing_and_shows_on_its_months_statement(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-01-10", 15 * 60)
    close(session, contract, "2026-01")
    late = post_work(client, finance, contract, "2026-01-20", 80, late=True)
    assert (late["late"], late["billable_minutes"]) == (True, 90)
    assert coverage(late) == [("late", None, 90)]
    assert ledger_rows(session, late["id"]) == {("overage", "late"): 1}
    january = statement(client, finance, contract, "2026-01")
    assert (
        january["used_minutes"],
        january["expired_minutes"],
        january["overage_minutes"],
        january["late_minutes"],
    ) == (900, 300, 0, 90)
    assert late["id"] in [e["id"] for e in january["entries"]]
    # Nothing leaks into February.
    february = statement(client, finance, contract, "2026-02")
    assert (february["used_minutes"], february["late_minutes"]) == (0, 0)
    assert_ledger_balances(session, contract)


def test_late_for_a_period_not_invoiced_is_422(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    response = post_work_response(client, finance, contract, "2026-01-10", 60, late=True)
    assert error_fields(assert_problem(response, 422)) == ["late"]
    assert list_entries(client, finance, contract) == []


def test_late_work_in_a_closed_quarter_is_shown_in_its_month(
    client: TestClient, finance: Headers, session: Session
) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="32", pooling_allowed=False
    )
    contract = contract_id(client, finance, plan=plan)
    post_work(client, finance, contract, "2026-01-10", 60)
    close(session, contract, "2026-03")
    assert_problem(post_work_response(client, finance, contract, "2026-02-10", 60), 409)
    late = post_work(client, finance, contract, "2026-02-10", 60, late=True)
    assert coverage(late) == [("late", None, 60)]
    assert [statement(client, finance, contract, m)["late_minutes"] for m in Q1] == [0, 60, 0]
    april = post_work(client, finance, contract, "2026-04-01", 60)
    assert coverage(april) == [("allotment", ("2026-04", "2026-05", "2026-06"), 60)]


def test_a_closed_first_month_of_a_pool_leaves_the_second_open(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    post_work(client, finance, contract, "2026-02-10", 30 * 60)
    close(session, contract, "2026-02")
    assert_problem(post_work_response(client, finance, contract, "2026-02-27", 60), 409)
    march = post_work(client, finance, contract, "2026-03-02", 60)
    assert coverage(march) == [("allotment", ("2026-03",), 60)]
    assert statement(client, finance, contract, "2026-03")["used_minutes"] == 1860


# Rule 5: the overage cap


def test_overage_up_to_the_cap_is_accepted_one_increment_more_is_409(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    at_cap = post_work(client, finance, contract, "2026-01-11", 2 * 60)
    assert coverage(at_cap) == [("overage", None, 120)]
    before = _snapshot(client, finance, contract, "2026-01")
    response = post_work_response(client, finance, contract, "2026-01-12", 1)
    assert_problem(response, 409, title="Overage cap exceeded", mentions="cap")
    assert _snapshot(client, finance, contract, "2026-01") == before
    assert_ledger_balances(session, contract)


def test_one_entry_crossing_the_cap_is_refused_whole(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 19 * 60)
    before = _snapshot(client, finance, contract, "2026-01")
    # 60 from the allotment + 180 over: above the 120 agreed.
    response = post_work_response(client, finance, contract, "2026-01-11", 4 * 60)
    problem = assert_problem(response, 409, title="Overage cap exceeded")
    assert "2" in problem["detail"]
    assert _snapshot(client, finance, contract, "2026-01") == before
    assert before[:2] == (19 * 60, 0)


def test_finance_can_approve_work_beyond_the_cap_billed_on_demand(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    approved = post_work(client, finance, contract, "2026-01-11", 3 * 60, approved_overage=True)
    assert approved["approved_overage"] is True
    assert coverage(approved) == [("on_demand", None, 60), ("overage", None, 120)]
    assert ledger_rows(session, approved["id"]) == {
        ("overage", "overage"): 1,
        ("overage", "on_demand"): 1,
    }
    assert statement(client, finance, contract, "2026-01")["overage_minutes"] == 180
    assert balance(client, finance, contract, "2026-01-20T12:00:00Z")["overage_minutes"] == 180
    # The cap is still full for work that is not approved.
    assert_problem(post_work_response(client, finance, contract, "2026-01-12", 15), 409)
    assert_ledger_balances(session, contract)


def test_approval_within_the_cap_changes_nothing(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    entry = post_work(client, finance, contract, "2026-01-11", 90, approved_overage=True)
    assert coverage(entry) == [("overage", None, 90)]


def test_support_cannot_approve_overage(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, support, contract, "2026-01-10", 20 * 60)
    before = _snapshot(client, finance, contract, "2026-01")
    response = post_work_response(
        client, support, contract, "2026-01-11", 3 * 60, approved_overage=True
    )
    assert_problem(response, 403, mentions="finance")
    assert _snapshot(client, finance, contract, "2026-01") == before


def test_the_cap_is_per_period(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 22 * 60)
    february = post_work(client, finance, contract, "2026-02-10", 22 * 60)
    assert coverage(february) == [("allotment", ("2026-02",), 1200), ("overage", None, 120)]


def test_a_zero_cap_refuses_any_overage(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance, overage_cap_hours="0")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    assert_problem(
        post_work_response(client, finance, contract, "2026-01-11", 1),
        409,
        title="Overage cap exceeded",
    )


def test_a_reversal_makes_room_under_the_cap(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    over = post_work(client, finance, contract, "2026-01-11", 2 * 60)
    assert reverse(client, finance, over["id"]).status_code == 201
    assert coverage(post_work(client, finance, contract, "2026-01-12", 2 * 60)) == [
        ("overage", None, 120)
    ]
    assert_ledger_balances(session, contract)


def test_reversing_approved_work_takes_back_on_demand_minutes_first(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    approved = post_work(client, finance, contract, "2026-01-11", 3 * 60, approved_overage=True)
    reversal = reverse(client, finance, approved["id"]).json()
    assert coverage(reversal) == [("on_demand", None, -60), ("overage", None, -120)]
    assert statement(client, finance, contract, "2026-01")["overage_minutes"] == 0
    assert_ledger_balances(session, contract)


# No package: every minute on demand


def test_a_plan_without_hours_bills_every_minute_on_demand(
    client: TestClient, finance: Headers, session: Session
) -> None:
    plan = create_plan(client, finance, included_hours="0", on_demand_rate="150.00")
    contract = contract_id(client, finance, plan=plan)
    entry = post_work(client, finance, contract, "2026-01-10", 50)
    assert coverage(entry) == [("on_demand", None, 60)]
    january = statement(client, finance, contract, "2026-01")
    assert (january["granted_minutes"], january["used_minutes"], january["overage_minutes"]) == (
        0,
        0,
        60,
    )
    shown = balance(client, finance, contract, "2026-01-20T12:00:00Z")
    assert (shown["allotments"], shown["remaining_minutes"], shown["overage_minutes"]) == (
        [],
        0,
        60,
    )
    assert_ledger_balances(session, contract)
