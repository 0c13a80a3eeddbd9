"""Who may do what with a contract's hours (SPEC "Security"): finance everything, support work
entries, customers read-only and only their own (404, not 403, for the rest)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.ledger.hours.helpers import (
    Headers,
    assert_problem,
    create_contract,
    create_customer,
    list_entries,
    post_work,
    post_work_response,
    reverse,
    statement,
    work_body,
)

CustomerHeaders = Callable[[int], Headers]


def _reads(contract: int, entry: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/v1/contracts/{contract}/balance", {"at": "2026-01-15T12:00:00Z"}),
        (f"/v1/contracts/{contract}/statement", {"month": "2026-01"}),
        (f"/v1/contracts/{contract}/work-entries", {"month": "2026-01"}),
        (f"/v1/work-entries/{entry}", {}),
    ]


def test_support_may_post_and_reverse_work(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = create_contract(client, finance)["id"]
    entry = post_work(client, support, contract, "2026-01-10", 60)
    assert reverse(client, support, entry["id"]).status_code == 201
    assert [e["kind"] for e in list_entries(client, support, contract)] == ["work", "reversal"]


def test_support_may_not_pool(client: TestClient, finance: Headers, support: Headers) -> None:
    contract = create_contract(client, finance)["id"]
    url = f"/v1/contracts/{contract}/pools"
    assert_problem(client.post(url, json={"first_month": "2026-02"}, headers=support), 403)
    assert client.post(url, json={"first_month": "2026-02"}, headers=finance).status_code == 201
    assert_problem(client.delete(f"{url}/2026-02", headers=support), 403)
    assert statement(client, finance, contract, "2026-02")["pooled"] is True


def test_a_customer_reads_its_own_hours(
    client: TestClient, finance: Headers, customer_headers: CustomerHeaders
) -> None:
    contract = create_contract(client, finance)
    entry = post_work(client, finance, contract["id"], "2026-01-10", 21 * 60)
    mine = customer_headers(contract["customer_id"])
    for path, params in _reads(contract["id"], entry["id"]):
        as_customer = client.get(path, params=params, headers=mine)
        assert as_customer.status_code == 200, (path, as_customer.text)
        assert as_customer.json() == client.get(path, params=params, headers=finance).json()
    shown = statement(client, mine, contract["id"], "2026-01")
    assert (shown["used_minutes"], shown["overage_minutes"]) == (1200, 60)


def test_a_customer_gets_404_for_another_customers_hours(
    client: TestClient, finance: Headers, customer_headers: CustomerHeaders
) -> None:
    theirs = create_contract(client, finance)
    entry = post_work(client, finance, theirs["id"], "2026-01-10", 60)
    someone_else = customer_headers(create_customer(client, finance)["id"])
    for path, params in _reads(theirs["id"], entry["id"]):
        assert_problem(client.get(path, params=params, headers=someone_else), 404)
    for path, params in _reads(987654, 987654):
        assert_problem(client.get(path, params=params, headers=someone_else), 404)


def test_a_customer_cannot_write_hours(
    client: TestClient, finance: Headers, customer_headers: CustomerHeaders
) -> None:
    contract = create_contract(client, finance)
    entry = post_work(client, finance, contract["id"], "2026-01-10", 60)
    mine = customer_headers(contract["customer_id"])
    cid = contract["id"]
    assert_problem(post_work_response(client, mine, cid, "2026-01-11", 60), 403)
    assert_problem(reverse(client, mine, entry["id"]), 403)
    batch = {"entries": [{"contract_id": cid, **work_body("2026-01-11", 60)}]}
    assert_problem(client.post("/v1/work-entries/batch", json=batch, headers=mine), 403)
    pools = f"/v1/contracts/{cid}/pools"
    assert_problem(client.post(pools, json={"first_month": "2026-02"}, headers=mine), 403)
    assert [e["id"] for e in list_entries(client, finance, cid)] == [entry["id"]]
    assert statement(client, finance, cid, "2026-02")["pooled"] is False


def test_without_a_valid_token_it_is_401(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)["id"]
    entry = post_work(client, finance, contract, "2026-01-10", 60)
    for headers in (
        {},
        {"Authorization": "Bearer hg_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        for path, params in _reads(contract, entry["id"]):
            assert_problem(client.get(path, params=params, headers=headers), 401)
        assert_problem(post_work_response(client, headers, contract, "2026-01-11", 60), 401)
        assert_problem(reverse(client, headers, entry["id"]), 401)
    assert len(list_entries(client, finance, contract)) == 1


def test_a_replay_needs_the_same_rights_as_the_request(
    client: TestClient, finance: Headers, customer_headers: CustomerHeaders
) -> None:
    contract = create_contract(client, finance)["id"]
    first = post_work_response(client, finance, contract, "2026-01-10", 60, key="k-secret")
    assert first.status_code == 201, first.text
    anonymous = post_work_response(client, {}, contract, "2026-01-10", 60, key="k-secret")
    assert_problem(anonymous, 401)
    stranger = customer_headers(create_customer(client, finance)["id"])
    assert_problem(
        post_work_response(client, stranger, contract, "2026-01-10", 60, key="k-secret"), 403
    )
