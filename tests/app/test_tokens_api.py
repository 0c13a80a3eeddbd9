"""SPEC "Security": finance lists and revokes tokens; a revoked token gets 401 at once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token, hash_token
from tests.factories import create_customer


def _token(session: Session, role: Role, customer_id: int | None = None) -> tuple[int, str]:
    row, token = create_token(session, role=role, customer_id=customer_id, name=f"{role} one")
    assert row.id is not None
    return row.id, token


def test_finance_lists_tokens_without_secrets(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    customer = create_customer(session)
    token_id, token = _token(session, Role.CUSTOMER, customer.id)
    response = client.get("/v1/tokens", params={"limit": 200}, headers=finance)
    assert response.status_code == 200, response.text
    listed = {item["id"]: item for item in response.json()["items"]}
    assert listed[token_id] == {
        "id": token_id,
        "name": "customer one",
        "role": "customer",
        "customer_id": customer.id,
        "prefix": token[:10],
        "created_at": listed[token_id]["created_at"],
        "revoked_at": None,
    }
    assert token not in response.text and hash_token(token) not in response.text
    assert "hash" not in response.text


def test_a_revoked_token_gets_401_at_once(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    token_id, token = _token(session, Role.SUPPORT)
    theirs = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/incidents", headers=theirs).status_code == 200
    revoked = client.delete(f"/v1/tokens/{token_id}", headers=finance)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    refused = client.get("/v1/incidents", headers=theirs)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    # Revoking again changes nothing; the token stays listed, as revoked.
    again = client.delete(f"/v1/tokens/{token_id}", headers=finance)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    listed = client.get("/v1/tokens", params={"limit": 200}, headers=finance).json()["items"]
    assert [t["revoked_at"] for t in listed if t["id"] == token_id] == [
        revoked.json()["revoked_at"]
    ]


def test_a_revoked_token_cannot_replay_its_idempotent_writes(
    client: TestClient, finance: dict[str, str], session: Session
) -> None:
    token_id, token = _token(session, Role.FINANCE)
    theirs = {"Authorization": f"Bearer {token}", "Idempotency-Key": "before-revoke"}
    body = {"components": ["platform"], "started_at": "2026-04-08T10:00:00+02:00"}
    client.post("/v1/plans", json=_plan(), headers=finance)
    assert client.post("/v1/incidents", json=body, headers=theirs).status_code == 201
    assert client.delete(f"/v1/tokens/{token_id}", headers=finance).status_code == 200
    assert client.post("/v1/incidents", json=body, headers=theirs).status_code == 401


def _plan() -> dict[str, object]:
    from tests.factories import plan_payload

    return plan_payload()


def test_only_finance_sees_or_revokes_tokens(
    client: TestClient, finance: dict[str, str], support: dict[str, str], session: Session
) -> None:
    customer = create_customer(session)
    token_id, token = _token(session, Role.CUSTOMER, customer.id)
    mine = {"Authorization": f"Bearer {token}"}
    for headers in (support, mine):
        assert client.get("/v1/tokens", headers=headers).status_code == 403
        assert client.delete(f"/v1/tokens/{token_id}", headers=headers).status_code == 403
    assert client.get("/v1/tokens").status_code == 401
    assert client.get("/v1/contracts", headers=mine).status_code == 200


def test_revoking_an_unknown_token_is_404(client: TestClient, finance: dict[str, str]) -> None:
    response = client.delete("/v1/tokens/987654", headers=finance)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
