"""Cursor pagination shared by every list: `limit` 1..200, an opaque `cursor`."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.errors import PROBLEM_JSON
from app.pagination import decode_cursor, encode_cursor
from ledger.errors import InvalidInput
from tests.factories import create_customer

Headers = dict[str, str]
LISTS = ["/v1/plans", "/v1/customers", "/v1/contracts"]


def assert_invalid(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert field in [error["field"] for error in body["errors"]], body
    assert field in body["detail"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "zzz",  # base64, but not of a cursor
    "!!!",  # not base64
    _b64("id:"),
    _b64("id:abc"),
    _b64("offset:10"),  # another kind of cursor
    _b64("10"),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
]


@pytest.mark.parametrize("path", LISTS)
def test_a_bad_cursor_is_422_naming_cursor(client: TestClient, finance: Headers, path: str) -> None:
    for cursor in BAD_CURSORS:
        assert_invalid(client.get(path, params={"cursor": cursor}, headers=finance), "cursor")


@pytest.mark.parametrize("path", LISTS)
def test_a_limit_out_of_range_is_422_naming_limit(
    client: TestClient, finance: Headers, path: str
) -> None:
    for limit in (0, -1, 201, "ten"):
        assert_invalid(client.get(path, params={"limit": limit}, headers=finance), "limit")


@pytest.mark.parametrize("limit", [1, 200])
def test_the_limits_of_limit_are_accepted(client: TestClient, finance: Headers, limit: int) -> None:
    assert client.get("/v1/customers", params={"limit": limit}, headers=finance).status_code == 200


def test_limit_caps_the_page_and_the_default_is_50(
    client: TestClient, finance: Headers, session: Session
) -> None:
    ids = [create_customer(session).id for _ in range(52)]
    default = client.get("/v1/customers", headers=finance).json()
    assert [c["id"] for c in default["items"]] == ids[:50]
    assert default["next_cursor"] is not None
    one = client.get("/v1/customers", params={"limit": 1}, headers=finance).json()
    assert [c["id"] for c in one["items"]] == ids[:1]
    rest = client.get(
        "/v1/customers", params={"limit": 200, "cursor": default["next_cursor"]}, headers=finance
    ).json()
    assert [c["id"] for c in rest["items"]] == ids[50:]
    assert rest["next_cursor"] is None


def test_an_empty_list(client: TestClient, finance: Headers) -> None:
    page = client.get("/v1/contracts", params={"customer_id": 987_654}, headers=finance).json()
    assert page == {"items": [], "next_cursor": None}


def test_cursor_round_trip_and_opacity() -> None:
    for last_id in (0, 1, 42, 2**40):
        cursor = encode_cursor(last_id)
        assert decode_cursor(cursor) == last_id
        assert "=" not in cursor  # safe in a query string as is
    assert decode_cursor(None) is None
    with pytest.raises(InvalidInput) as error:
        decode_cursor("not-a-cursor")
    assert error.value.field == "cursor"


def test_a_cursor_with_an_out_of_range_id_is_422(app: Any, finance: Headers) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get(
        "/v1/customers", params={"cursor": encode_cursor(10**30)}, headers=finance
    )
    assert_invalid(response, "cursor")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "statuses"),
    [
        ("get", "/v1/customers/99999999999999999999", {}, {404, 422}),
        ("get", "/v1/contracts/99999999999999999999", {}, {404, 422}),
        ("get", "/v1/contracts", {"params": {"customer_id": 10**20}}, {200, 422}),
        ("get", "/v1/plans/any", {"params": {"version": 10**20}}, {404, 422}),
        (
            "post",
            "/v1/contracts",
            {"json": {"customer_id": 10**20, "plan_code": "x", "start_date": "2026-01-01"}},
            {422},
        ),
    ],
)
def test_out_of_range_ids_are_not_a_500(
    app: Any, finance: Headers, method: str, path: str, kwargs: dict[str, Any], statuses: set[int]
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    response = client.request(method, path, headers=finance, **kwargs)
    assert response.status_code in statuses, response.text
