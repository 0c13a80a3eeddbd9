"""SPEC "Hours" rule 3 through the API: pooling months M and M+1, its refusals, its undo with
re-consumption, and how pooled months read on statements and balances."""

from __future__ import annotations

from typing import Any

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
    create_plan,
    error_fields,
    pool,
    post_work,
    statement,
    undo_pool,
)

FEB = ("2026-02",)
MAR = ("2026-03",)


def _figures(shown: dict[str, Any]) -> tuple[int, int, int, bool]:
    return (
        shown["granted_minutes"],
        shown["used_minutes"],
        shown["overage_minutes"],
        shown["pooled"],
    )


def test_pooling_two_months(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    response = pool(client, finance, contract, "2026-02")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["first_month"] == "2026-02"
    assert body["months"] == ["2026-02", "2026-03"]
    assert body["granted_minutes"] == 2400
    assert body["expires_at"] == "2026-03-31T22:00:00Z"  # end of March, Berlin summer time
    for at in ("2026-02-01T00:00:00+01:00", "2026-03-31T23:59:59+02:00"):
        shown = balance(client, finance, contract, at)
        assert [
            (a["months"], a["granted_minutes"], a["remaining_minutes"], a["pooled"])
            for a in shown["allotments"]
        ] == [(["2026-02", "2026-03"], 2400, 2400, True)]
        assert shown["allotments"][0]["expires_at"] == "2026-03-31T22:00:00Z"
    # The end of February is no longer an expiry: the pool is still there on 1 March.
    assert balance(client, finance, contract, "2026-02-28T23:00:00Z")["remaining_minutes"] == 2400
    after = balance(client, finance, contract, "2026-03-31T22:00:00Z")
    assert [a["months"] for a in after["allotments"]] == [["2026-04"]]


def test_pooling_a_partial_first_month(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance, start_date="2026-05-20")
    response = pool(client, finance, contract, "2026-05")
    assert response.status_code == 201, response.text
    assert response.json()["granted_minutes"] == 465 + 1200


def test_pooled_months_share_the_pools_figures_and_keep_their_own_overage(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    post_work(client, finance, contract, "2026-02-10", 30 * 60)
    march = post_work(client, finance, contract, "2026-03-10", 12 * 60)
    assert coverage(march) == [("allotment", MAR, 600), ("overage", None, 120)]
    assert _figures(statement(client, finance, contract, "2026-02")) == (2400, 2400, 0, True)
    assert _figures(statement(client, finance, contract, "2026-03")) == (2400, 2400, 120, True)
    assert [e["worked_on"] for e in statement(client, finance, contract, "2026-03")["entries"]] == [
        "2026-03-10"
    ]
    assert _figures(statement(client, finance, contract, "2026-04")) == (1200, 0, 0, False)
    assert_ledger_balances(session, contract)


def test_overage_in_the_first_month_of_a_pool_stays_in_that_month(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    post_work(client, finance, contract, "2026-02-10", 42 * 60)
    assert _figures(statement(client, finance, contract, "2026-02")) == (2400, 2400, 120, True)
    assert _figures(statement(client, finance, contract, "2026-03")) == (2400, 2400, 0, True)


def test_undo_reconsumes_as_if_the_pool_never_existed(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    post_work(client, finance, contract, "2026-02-10", 30 * 60)
    post_work(client, finance, contract, "2026-03-10", 12 * 60)
    response = undo_pool(client, finance, contract, "2026-02")
    assert response.status_code == 204, response.text
    assert response.content == b""
    # February: 20 h used, 10 h overage; March: 12 h used, nothing over.
    assert _figures(statement(client, finance, contract, "2026-02")) == (1200, 1200, 600, False)
    assert _figures(statement(client, finance, contract, "2026-03")) == (1200, 720, 0, False)
    february = balance(client, finance, contract, "2026-02-15T12:00:00Z")
    assert [(a["months"], a["expires_at"], a["pooled"]) for a in february["allotments"]] == [
        (["2026-02"], "2026-02-28T23:00:00Z", False)
    ]
    assert february["overage_minutes"] == 600
    assert_ledger_balances(session, contract)


def test_pool_undo_pool_again(client: TestClient, finance: Headers, session: Session) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-02-10", 30 * 60)
    post_work(client, finance, contract, "2026-03-10", 12 * 60)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    assert undo_pool(client, finance, contract, "2026-02").status_code == 204
    again = pool(client, finance, contract, "2026-02")
    assert again.status_code == 201, again.text
    assert again.json()["granted_minutes"] == 2400
    assert _figures(statement(client, finance, contract, "2026-02")) == (2400, 2400, 0, True)
    assert _figures(statement(client, finance, contract, "2026-03")) == (2400, 2400, 120, True)
    assert_ledger_balances(session, contract)


def test_pooling_after_work_absorbs_the_overage(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    post_work(client, finance, contract, "2026-02-10", 30 * 60)
    assert statement(client, finance, contract, "2026-02")["overage_minutes"] == 600
    assert pool(client, finance, contract, "2026-02").status_code == 201
    assert _figures(statement(client, finance, contract, "2026-02")) == (2400, 1800, 0, True)
    assert_ledger_balances(session, contract)


def test_an_entrys_coverage_follows_its_reconsumption(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    entry = post_work(client, finance, contract, "2026-02-10", 30 * 60)
    assert coverage(entry) == [("allotment", FEB, 1200), ("overage", None, 600)]
    assert pool(client, finance, contract, "2026-02").status_code == 201
    pooled = client.get(f"/v1/work-entries/{entry['id']}", headers=finance).json()
    assert coverage(pooled) == [("allotment", FEB, 1200), ("allotment", MAR, 600)]
    assert undo_pool(client, finance, contract, "2026-02").status_code == 204
    unpooled = client.get(f"/v1/work-entries/{entry['id']}", headers=finance).json()
    assert coverage(unpooled) == [("allotment", FEB, 1200), ("overage", None, 600)]
    assert sum(c["minutes"] for c in unpooled["coverage"]) == unpooled["billable_minutes"]


# Refusals: 409 problem+json with a clear detail, nothing changed


def test_a_plan_without_pooling_refuses(client: TestClient, finance: Headers) -> None:
    plan = create_plan(client, finance, pooling_allowed=False)
    contract = contract_id(client, finance, plan=plan)
    assert_problem(
        pool(client, finance, contract, "2026-02"), 409, title="Pooling refused", mentions="pool"
    )
    assert (
        balance(client, finance, contract, "2026-02-15T12:00:00Z")["allotments"][0]["pooled"]
        is False
    )


def test_a_quarterly_plan_refuses(client: TestClient, finance: Headers) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="32", pooling_allowed=False
    )
    contract = contract_id(client, finance, plan=plan)
    assert_problem(pool(client, finance, contract, "2026-01"), 409, title="Pooling refused")


@pytest.mark.parametrize(
    ("contract", "first_month", "outside"),
    [
        pytest.param({}, "2025-12", "2025-12", id="first-month-before-start"),
        pytest.param({"start_date": "2026-02-01"}, "2026-01", "2026-01", id="start-in-second"),
        pytest.param({"end_date": "2026-06-30"}, "2026-06", "2026-07", id="second-after-end"),
        pytest.param({"end_date": "2026-06-30"}, "2026-07", "2026-07", id="both-after-end"),
    ],
)
def test_months_outside_the_contract_refuse(
    client: TestClient, finance: Headers, contract: dict[str, Any], first_month: str, outside: str
) -> None:
    cid = contract_id(client, finance, **contract)
    assert_problem(
        pool(client, finance, cid, first_month), 409, title="Pooling refused", mentions=outside
    )


def test_pooling_up_to_the_last_partial_month_is_allowed(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance, end_date="2026-06-10")
    response = pool(client, finance, contract, "2026-05")
    assert response.status_code == 201, response.text
    assert response.json()["granted_minutes"] == 1200 + 405


def test_a_closed_first_month_refuses(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    close(session, contract, "2026-02")
    assert_problem(
        pool(client, finance, contract, "2026-02"), 409, title="Pooling refused", mentions="closed"
    )


def test_a_month_belongs_to_at_most_one_pool(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    for second in ("2026-03", "2026-01", "2026-02"):
        assert_problem(
            pool(client, finance, contract, second),
            409,
            title="Pooling refused",
            mentions="2026-02",
        )
    assert balance(client, finance, contract, "2026-02-15T12:00:00Z")["allotments"][0][
        "months"
    ] == ["2026-02", "2026-03"]
    for month in ("2026-01", "2026-04"):
        assert statement(client, finance, contract, month)["pooled"] is False


def test_two_pools_side_by_side(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    assert pool(client, finance, contract, "2026-04").status_code == 201
    april = balance(client, finance, contract, "2026-05-20T12:00:00Z")["allotments"]
    assert [(a["months"], a["granted_minutes"]) for a in april] == [(["2026-04", "2026-05"], 2400)]


def test_undo_of_a_closed_first_month_is_refused(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    assert pool(client, finance, contract, "2026-01").status_code == 201
    post_work(client, finance, contract, "2026-01-10", 25 * 60)
    close(session, contract, "2026-01")
    assert_problem(undo_pool(client, finance, contract, "2026-01"), 409, mentions="closed")
    assert statement(client, finance, contract, "2026-02")["pooled"] is True
    assert statement(client, finance, contract, "2026-01")["overage_minutes"] == 0


def test_undo_of_a_pool_that_does_not_exist_is_404(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    assert_problem(undo_pool(client, finance, contract, "2026-02"), 404)
    assert pool(client, finance, contract, "2026-02").status_code == 201
    # A pool is named by its first month.
    assert_problem(undo_pool(client, finance, contract, "2026-03"), 404)
    assert undo_pool(client, finance, contract, "2026-02").status_code == 204
    assert_problem(undo_pool(client, finance, contract, "2026-02"), 404)


def test_pooling_a_plan_without_hours_is_not_a_server_error(
    app: Any, finance: Headers, client: TestClient
) -> None:
    plan = create_plan(client, finance, included_hours="0", pooling_allowed=True)
    contract = contract_id(client, finance, plan=plan)
    with TestClient(app, raise_server_exceptions=False) as tolerant:
        response = pool(tolerant, finance, contract, "2026-02")
    assert response.status_code in (201, 409), response.text


def test_pooling_an_unknown_contract_is_404(client: TestClient, finance: Headers) -> None:
    assert_problem(pool(client, finance, 987654, "2026-02"), 404)


def test_a_bad_first_month_is_422(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    for month in ("2026-13", "2026-00", "2026-2", "26-02", "2026-02-01"):
        problem = assert_problem(pool(client, finance, contract, month), 422)
        assert "first_month" in error_fields(problem), month
    assert statement(client, finance, contract, "2026-02")["pooled"] is False


def test_a_bad_month_to_undo_is_422(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    response = undo_pool(client, finance, contract, "2026-13")
    assert "first_month" in error_fields(assert_problem(response, 422))
