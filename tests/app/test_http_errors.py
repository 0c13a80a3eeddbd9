"""Malformed JSON names the body (line and column), and a 405 lists every allowed method."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_malformed_json_names_the_body_with_line_and_column(
    client: TestClient, finance: dict[str, str]
) -> None:
    raw = b'{\n  "code": "x",\n  "name": ,\n}'
    response = client.post(
        "/v1/plans", content=raw, headers=finance | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["body"]
    assert "line 3, column 11" in body["errors"][0]["message"]
    assert "line 3, column 11" in body["detail"]


def test_a_405_lists_every_method_of_the_path(client: TestClient, finance: dict[str, str]) -> None:
    response = client.put("/v1/plans", json={}, headers=finance)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["allow"] == "GET, HEAD, POST"
    response = client.put("/v1/customers/1", json={}, headers=finance)
    assert response.headers["allow"] == "GET, HEAD, PATCH"
    response = client.get("/v1/contracts/1/pools/2026-01", headers=finance)
    assert response.headers["allow"] == "DELETE"
