"""SPEC "Hours" rule 8 through the API: `Idempotency-Key` on the writes that create hours."""

from __future__ import annotations

import hashlib
import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.tokens import authenticate
from app.idempotency.models import IdempotencyKey
from tests.ledger.hours.helpers import (
    Headers,
    assert_problem,
    contract_id,
    list_entries,
    post_work,
    post_work_response,
    reverse,
    statement,
    work_body,
)

REPLAYED = "Idempotent-Replayed"


def test_same_key_same_body_replays_the_first_result(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    first = post_work_response(client, finance, contract, "2026-01-10", 60, key="k-1")
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    second = post_work_response(client, finance, contract, "2026-01-10", 60, key="k-1")
    assert second.status_code == 201, second.text
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert [e["id"] for e in list_entries(client, finance, contract)] == [first.json()["id"]]
    assert statement(client, finance, contract, "2026-01")["used_minutes"] == 60


def test_the_body_is_compared_by_content_not_by_key_order(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    url = f"/v1/contracts/{contract}/work-entries"
    body = work_body("2026-01-10", 60)
    headers = finance | {"Idempotency-Key": "k-order", "Content-Type": "application/json"}
    first = client.post(url, content=json.dumps(body), headers=headers)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    second = client.post(url, content=reordered, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers[REPLAYED] == "true"
    assert len(list_entries(client, finance, contract)) == 1


def test_same_key_other_body_is_409(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    post_work_response(client, finance, contract, "2026-01-10", 60, key="k-2")
    response = post_work_response(client, finance, contract, "2026-01-10", 75, key="k-2")
    assert_problem(response, 409, title="Idempotency-Key conflict", mentions="different")
    assert len(list_entries(client, finance, contract)) == 1


def test_same_key_on_another_contract_is_409(client: TestClient, finance: Headers) -> None:
    first = contract_id(client, finance)
    other = contract_id(client, finance)
    assert (
        post_work_response(client, finance, first, "2026-01-10", 60, key="k-3").status_code == 201
    )
    assert_problem(post_work_response(client, finance, other, "2026-01-10", 60, key="k-3"), 409)
    assert list_entries(client, finance, other) == []


def test_a_key_still_in_flight_is_409(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = contract_id(client, finance)
    body = work_body("2026-01-10", 60)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    principal = authenticate(session, finance["Authorization"].removeprefix("Bearer "))
    assert principal is not None
    fingerprint = hashlib.sha256(
        f"POST /v1/contracts/{contract}/work-entries\n{canonical}".encode()
    ).hexdigest()
    claim = IdempotencyKey(token_id=principal.token_id, key="k-flight", fingerprint=fingerprint)
    session.add(claim)
    session.flush()
    response = post_work_response(client, finance, contract, "2026-01-10", 60, key="k-flight")
    assert_problem(response, 409, mentions="in progress")
    assert list_entries(client, finance, contract) == []


def test_a_key_on_a_reversal_replays_the_same_reversal(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    entry = post_work(client, finance, contract, "2026-01-10", 60)
    headers = finance | {"Idempotency-Key": "k-rev"}
    first = reverse(client, headers, entry["id"])
    second = reverse(client, headers, entry["id"])
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers[REPLAYED] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert [e["kind"] for e in list_entries(client, finance, contract)] == ["work", "reversal"]
    # Without the key, a second reversal is what it is: a conflict.
    assert_problem(reverse(client, finance, entry["id"]), 409)


def test_a_reversal_key_cannot_be_reused_for_another_entry(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance)
    first = post_work(client, finance, contract, "2026-01-10", 60)
    second = post_work(client, finance, contract, "2026-01-11", 60)
    headers = finance | {"Idempotency-Key": "k-rev-2"}
    assert reverse(client, headers, first["id"]).status_code == 201
    assert_problem(reverse(client, headers, second["id"]), 409, title="Idempotency-Key conflict")
    assert (
        client.get(f"/v1/work-entries/{second['id']}", headers=finance).json()["reversed_by_id"]
        is None
    )


def test_a_refused_request_does_not_burn_its_key(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    refused = post_work_response(client, finance, contract, "2026-01-10", 0, key="k-retry")
    assert_problem(refused, 422)
    # The corrected request, with the same key but another body, goes through.
    corrected = post_work_response(client, finance, contract, "2026-01-10", 60, key="k-retry")
    assert corrected.status_code == 201, corrected.text
    assert REPLAYED not in corrected.headers
    replay = post_work_response(client, finance, contract, "2026-01-10", 60, key="k-retry")
    assert replay.headers[REPLAYED] == "true"
    assert replay.json()["id"] == corrected.json()["id"]
    assert len(list_entries(client, finance, contract)) == 1


def test_a_request_refused_by_a_rule_does_not_burn_its_key(
    client: TestClient, finance: Headers
) -> None:
    contract = contract_id(client, finance, overage_cap_hours="0")
    post_work(client, finance, contract, "2026-01-10", 20 * 60)
    refused = post_work_response(client, finance, contract, "2026-01-11", 60, key="k-cap")
    assert_problem(refused, 409, title="Overage cap exceeded")
    # Same key, same body again: evaluated again (and refused again), not replayed.
    again = post_work_response(client, finance, contract, "2026-01-11", 60, key="k-cap")
    assert_problem(again, 409, title="Overage cap exceeded")
    assert REPLAYED not in again.headers
    approved = post_work_response(
        client, finance, contract, "2026-01-11", 60, key="k-cap", approved_overage=True
    )
    assert approved.status_code == 201, approved.text
    assert len(list_entries(client, finance, contract)) == 2


def test_a_forbidden_request_does_not_burn_its_key(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = contract_id(client, finance)
    forbidden = post_work_response(
        client, support, contract, "2026-01-10", 60, key="k-403", approved_overage=True
    )
    assert_problem(forbidden, 403)
    allowed = post_work_response(client, support, contract, "2026-01-10", 60, key="k-403")
    assert allowed.status_code == 201, allowed.text
    assert REPLAYED not in allowed.headers


def test_without_a_key_every_request_counts(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    first = post_work(client, finance, contract, "2026-01-10", 60)
    second = post_work(client, finance, contract, "2026-01-10", 60)
    assert first["id"] != second["id"]
    assert statement(client, finance, contract, "2026-01")["used_minutes"] == 120


def test_a_key_on_a_pool_replays_it(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    headers = finance | {"Idempotency-Key": "k-pool"}
    url = f"/v1/contracts/{contract}/pools"
    first = client.post(url, json={"first_month": "2026-02"}, headers=headers)
    second = client.post(url, json={"first_month": "2026-02"}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    # Without the key the same request is a second pool: refused.
    assert client.post(url, json={"first_month": "2026-02"}, headers=finance).status_code == 409


def test_a_key_on_a_batch_replays_it(client: TestClient, finance: Headers) -> None:
    contract = contract_id(client, finance)
    body = {
        "entries": [
            {"contract_id": contract, **work_body("2026-01-10", 60)},
            {"contract_id": contract, **work_body("2026-01-11", 30)},
        ]
    }
    headers = finance | {"Idempotency-Key": "k-batch"}
    first = client.post("/v1/work-entries/batch", json=body, headers=headers)
    second = client.post("/v1/work-entries/batch", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert len(list_entries(client, finance, contract)) == 2
