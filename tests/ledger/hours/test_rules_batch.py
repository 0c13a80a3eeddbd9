"""`POST /v1/work-entries/batch`: many entries at once, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.hours.models import Allotment, LedgerEntry
from tests.ledger.hours.helpers import (
    Headers,
    assert_ledger_balances,
    assert_problem,
    close,
    contract_id,
    coverage,
    error_fields,
    list_entries,
    post_work,
    statement,
    work_body,
)

JAN = ("2026-01",)
URL = "/v1/work-entries/batch"


def _item(contract: int, worked_on: str, minutes: int, **extra: Any) -> dict[str, Any]:
    return {"contract_id": contract, **work_body(worked_on, minutes, **extra)}


def _counts(client: TestClient, headers: Headers, *contracts: int) -> list[int]:
    return [len(list_entries(client, headers, c)) for c in contracts]


def test_a_batch_posts_every_entry_in_order(
    client: TestClient, finance: Headers, support: Headers, session: Session
) -> None:
    first = contract_id(client, finance)
    second = contract_id(client, finance)
    body = {
        "entries": [
            _item(first, "2026-01-10", 19 * 60),
            _item(second, "2026-01-10", 50),
            _item(first, "2026-01-11", 2 * 60, level=1),
        ]
    }
    response = client.post(URL, json=body, headers=support)
    assert response.status_code == 201, response.text
    page = response.json()
    assert page["next_cursor"] is None
    items = page["items"]
    assert [(e["contract_id"], e["worked_on"], e["billable_minutes"]) for e in items] == [
        (first, "2026-01-10", 1140),
        (second, "2026-01-10", 60),
        (first, "2026-01-11", 120),
    ]
    # Each entry consumes after the ones before it in the batch.
    assert [coverage(e) for e in items] == [
        [("allotment", JAN, 1140)],
        [("allotment", JAN, 60)],
        [("allotment", JAN, 60), ("overage", None, 60)],
    ]
    assert statement(client, finance, first, "2026-01")["overage_minutes"] == 60
    assert _counts(client, finance, first, second) == [2, 1]
    assert_ledger_balances(session, first)


def test_an_entry_in_a_closed_period_refuses_the_whole_batch(
    client: TestClient, finance: Headers, session: Session
) -> None:
    open_contract = contract_id(client, finance)
    closed_contract = contract_id(client, finance)
    post_work(client, finance, closed_contract, "2026-01-05", 60)
    close(session, closed_contract, "2026-01")
    body = {
        "entries": [
            _item(open_contract, "2026-01-10", 60),
            _item(closed_contract, "2026-01-10", 60),
            _item(open_contract, "2026-01-11", 60),
        ]
    }
    assert_problem(client.post(URL, json=body, headers=finance), 409, mentions="late")
    assert _counts(client, finance, open_contract, closed_contract) == [0, 1]
    assert statement(client, finance, open_contract, "2026-01")["used_minutes"] == 0


def test_an_entry_over_the_cap_refuses_the_whole_batch(
    client: TestClient, finance: Headers
) -> None:
    other = contract_id(client, finance)
    capped = contract_id(client, finance, overage_cap_hours="2")
    # Each entry alone fits; the second brings the overage to 3 h.
    body = {
        "entries": [
            _item(other, "2026-01-09", 60),
            _item(capped, "2026-01-10", 21 * 60),
            _item(capped, "2026-01-11", 2 * 60),
        ]
    }
    assert_problem(client.post(URL, json=body, headers=finance), 409, title="Overage cap exceeded")
    assert _counts(client, finance, other, capped) == [0, 0]
    assert statement(client, finance, capped, "2026-01")["used_minutes"] == 0


@pytest.mark.parametrize("refusal", ["closed-period", "over-cap"])
def test_a_409_in_a_batch_names_the_entry(
    client: TestClient, finance: Headers, session: Session, refusal: str
) -> None:
    if refusal == "closed-period":
        contract = contract_id(client, finance)
        close(session, contract, "2026-01")
        entries = [_item(contract, "2026-02-10", 60), _item(contract, "2026-01-10", 60)]
    else:
        contract = contract_id(client, finance, overage_cap_hours="2")
        entries = [_item(contract, "2026-01-10", 20 * 60), _item(contract, "2026-01-11", 3 * 60)]
    problem = assert_problem(client.post(URL, json={"entries": entries}, headers=finance), 409)
    assert any(field.startswith("entries.1") for field in error_fields(problem)), problem
    assert "entries.1" in problem["detail"]


def test_an_entry_outside_its_contract_is_422_naming_it(
    client: TestClient, finance: Headers
) -> None:
    first = contract_id(client, finance)
    second = contract_id(client, finance, start_date="2026-03-01")
    body = {"entries": [_item(first, "2026-01-10", 60), _item(second, "2026-01-10", 60)]}
    problem = assert_problem(client.post(URL, json=body, headers=finance), 422)
    assert error_fields(problem) == ["entries.1.worked_on"]
    assert "entries.1.worked_on" in problem["detail"]
    assert _counts(client, finance, first, second) == [0, 0]


def test_a_malformed_entry_is_422_naming_it(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    for change, field in (
        ({"minutes": 0}, "entries.1.minutes"),
        ({"level": 5}, "entries.1.level"),
        ({"ticket_ref": ""}, "entries.1.ticket_ref"),
        ({"contract_id": "x"}, "entries.1.contract_id"),
    ):
        body = {"entries": [_item(contract, "2026-01-10", 60), _item(contract, "2026-01-11", 60)]}
        body["entries"][1].update(change)
        problem = assert_problem(client.post(URL, json=body, headers=finance), 422)
        assert field in error_fields(problem), field
    assert _counts(client, finance, contract) == [0]


def test_a_late_flag_on_an_open_period_is_422_naming_it(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    body = {
        "entries": [_item(contract, "2026-01-10", 60), _item(contract, "2026-01-11", 60, late=True)]
    }
    problem = assert_problem(client.post(URL, json=body, headers=finance), 422)
    assert error_fields(problem) == ["entries.1.late"]
    assert _counts(client, finance, contract) == [0]


def test_an_unknown_contract_refuses_the_batch(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    body = {"entries": [_item(contract, "2026-01-10", 60), _item(987654, "2026-01-10", 60)]}
    assert_problem(client.post(URL, json=body, headers=finance), 404)
    assert _counts(client, finance, contract) == [0]


def test_an_empty_batch_is_422(client: TestClient, finance: Headers) -> None:
    problem = assert_problem(client.post(URL, json={"entries": []}, headers=finance), 422)
    assert "entries" in error_fields(problem)


def test_support_cannot_approve_overage_in_a_batch(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    body = {
        "entries": [
            _item(contract, "2026-01-10", 60),
            _item(contract, "2026-01-11", 60, approved_overage=True),
        ]
    }
    assert_problem(client.post(URL, json=body, headers=support), 403)
    assert _counts(client, finance, contract) == [0]


def test_finance_can_approve_overage_in_a_batch(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance, overage_cap_hours="2")
    body = {
        "entries": [
            _item(contract, "2026-01-10", 20 * 60),
            _item(contract, "2026-01-11", 3 * 60, approved_overage=True),
        ]
    }
    response = client.post(URL, json=body, headers=finance)
    assert response.status_code == 201, response.text
    assert coverage(response.json()["items"][1]) == [
        ("on_demand", None, 60),
        ("overage", None, 120),
    ]


def test_late_work_in_a_batch(client: TestClient, finance: Headers, session: Session) -> None:
    contract = contract_id(client, finance)
    close(session, contract, "2026-01")
    body = {
        "entries": [
            _item(contract, "2026-01-31", 60, late=True),
            _item(contract, "2026-02-01", 60),
        ]
    }
    response = client.post(URL, json=body, headers=finance)
    assert response.status_code == 201, response.text
    assert [coverage(e) for e in response.json()["items"]] == [
        [("late", None, 60)],
        [("allotment", ("2026-02",), 60)],
    ]


def test_the_first_refusal_in_order_is_reported_whatever_its_kind(
    client: TestClient, finance: Headers
) -> None:
    """Entries are checked before any is booked; a refusal that only booking finds (the cap)
    still wins over a later entry's bad date, as if they were posted one by one."""
    capped = contract_id(client, finance, overage_cap_hours="2")
    later = contract_id(client, finance, start_date="2026-03-01")
    body = {
        "entries": [
            _item(capped, "2026-01-10", 20 * 60),
            _item(capped, "2026-01-11", 3 * 60),
            _item(later, "2026-01-10", 60),
        ]
    }
    problem = assert_problem(client.post(URL, json=body, headers=finance), 409)
    assert "entries.1" in problem["detail"], problem
    body["entries"] = [body["entries"][0], body["entries"][2], body["entries"][1]]
    problem = assert_problem(client.post(URL, json=body, headers=finance), 422)
    assert error_fields(problem) == ["entries.1.worked_on"]
    assert _counts(client, finance, capped, later) == [0, 0]
    assert statement(client, finance, capped, "2026-01")["used_minutes"] == 0


def test_a_batch_leaves_each_allotment_pointing_at_its_last_row(
    client: TestClient, finance: Headers, session: Session
) -> None:
    """The batch writes its ledger rows at once; `last_entry_id` is still each allotment's
    latest row, and the totals are the sums of the rows."""
    first = contract_id(client, finance)
    second = contract_id(client, finance, overage_cap_hours="1")
    entries = [
        _item(contract, f"2026-01-{day:02d}", minutes)
        for day in range(5, 12)
        for contract, minutes in ((first, 200), (second, 180))
    ]
    entries.append(_item(second, "2026-02-03", 30))
    response = client.post(URL, json={"entries": entries}, headers=finance)
    assert response.status_code == 201, response.text
    session.expire_all()
    for contract in (first, second):
        assert_ledger_balances(session, contract)
        for allotment in session.scalars(
            select(Allotment).where(col(Allotment.contract_id) == contract)
        ):
            latest = session.scalar(
                select(func.max(LedgerEntry.id)).where(
                    col(LedgerEntry.allotment_id) == allotment.id
                )
            )
            assert allotment.last_entry_id == latest, allotment
    assert statement(client, finance, second, "2026-01")["overage_minutes"] == 60
