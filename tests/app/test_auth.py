"""Bearer tokens and roles (SPEC "Security"): 401 without a valid token, 403 for the wrong
role, 404 for a customer asking for another customer's data, tokens stored only hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import ApiToken
from app.auth.tokens import Role, authenticate, create_token
from app.errors import PROBLEM_JSON
from ledger.base import utcnow
from ledger.errors import InvalidInput
from tests.factories import create_contract, create_customer, create_plan, plan_payload

Headers = dict[str, str]
CustomerHeaders = Callable[[int], Headers]


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


# --- 401: no token, or a token that is not ours ------------------------------------------


UNAUTHENTICATED = [
    ("get", "/v1/plans"),
    ("post", "/v1/plans"),
    ("get", "/v1/plans/any"),
    ("get", "/v1/customers"),
    ("get", "/v1/customers/1"),
    ("patch", "/v1/customers/1"),
    ("get", "/v1/contracts"),
    ("post", "/v1/contracts"),
    ("get", "/v1/contracts/1"),
    ("post", "/v1/contracts/1/cancel"),
]


def test_no_token_is_401_problem_with_www_authenticate(client: TestClient) -> None:
    for method, path in UNAUTHENTICATED:
        response = client.request(method, path)
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in body["detail"]


def test_a_token_that_is_not_valid_is_401(client: TestClient) -> None:
    for authorization in (
        "Bearer not-a-token",
        "Bearer hg_" + "A" * 43,
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "hg_something-without-a-scheme",
    ):
        response = client.get("/v1/contracts", headers={"Authorization": authorization})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_valid_token_under_another_scheme_is_401(client: TestClient, finance: Headers) -> None:
    token = finance["Authorization"].removeprefix("Bearer ")
    assert client.get("/v1/plans", headers=finance).status_code == 200
    response = client.get("/v1/plans", headers={"Authorization": f"Token {token}"})
    assert_problem(response, 401)


def test_a_revoked_token_is_401(client: TestClient, session: Session) -> None:
    row, token = create_token(session, role=Role.FINANCE, name="leaving")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/plans", headers=headers).status_code == 200
    row.revoked_at = utcnow()
    session.flush()
    assert_problem(client.get("/v1/plans", headers=headers), 401)


def test_a_token_with_extra_characters_is_401(client: TestClient, finance: Headers) -> None:
    response = client.get("/v1/plans", headers={"Authorization": finance["Authorization"] + "x"})
    assert_problem(response, 401)


# --- 403: the wrong role -----------------------------------------------------------------


def test_support_cannot_create_a_plan(
    client: TestClient, support: Headers, session: Session
) -> None:
    response = client.post("/v1/plans", json=plan_payload(), headers=support)
    body = assert_problem(response, 403)
    assert "support" in body["detail"]
    assert session.scalar(sa.text("SELECT count(*) FROM plans")) == 0


def test_customer_cannot_create_a_contract(
    client: TestClient, session: Session, customer_headers: CustomerHeaders
) -> None:
    customer = create_customer(session)
    plan = create_plan(session)
    assert customer.id is not None
    response = client.post(
        "/v1/contracts",
        json={"customer_id": customer.id, "plan_code": plan.code, "start_date": "2026-01-01"},
        headers=customer_headers(customer.id),
    )
    assert_problem(response, 403)
    assert session.scalar(sa.text("SELECT count(*) FROM contracts")) == 0


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        (Role.SUPPORT, "get", "/v1/plans"),
        (Role.SUPPORT, "get", "/v1/customers"),
        (Role.SUPPORT, "post", "/v1/customers"),
        (Role.SUPPORT, "post", "/v1/contracts"),
        (Role.CUSTOMER, "get", "/v1/plans"),
        (Role.CUSTOMER, "post", "/v1/plans"),
        (Role.CUSTOMER, "post", "/v1/customers"),
    ],
)
def test_roles_are_enforced(
    client: TestClient, session: Session, role: Role, method: str, path: str
) -> None:
    customer = create_customer(session)
    _, token = create_token(
        session, role=role, customer_id=customer.id if role is Role.CUSTOMER else None
    )
    response = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, json={})
    assert_problem(response, 403)


def test_customer_cannot_change_or_cancel_even_its_own_data(
    client: TestClient, session: Session, customer_headers: CustomerHeaders
) -> None:
    contract = create_contract(session)
    headers = customer_headers(contract.customer_id)
    response = client.patch(
        f"/v1/customers/{contract.customer_id}", json={"name": "Renamed"}, headers=headers
    )
    assert_problem(response, 403)
    response = client.post(
        f"/v1/contracts/{contract.id}/cancel", json={"end_date": "2026-06-30"}, headers=headers
    )
    assert_problem(response, 403)
    session.refresh(contract)
    assert contract.status == "active"
    assert contract.end_date is None


def test_support_reads_contracts(client: TestClient, session: Session, support: Headers) -> None:
    contract = create_contract(session)
    assert client.get(f"/v1/contracts/{contract.id}", headers=support).status_code == 200
    assert client.get("/v1/contracts", headers=support).status_code == 200


# --- 404: a customer never sees another customer's data ----------------------------------


def test_customer_token_reads_its_own_customer_and_not_another(
    client: TestClient, session: Session, customer_headers: CustomerHeaders
) -> None:
    mine = create_customer(session)
    other = create_customer(session)
    assert mine.id is not None
    headers = customer_headers(mine.id)

    own = client.get(f"/v1/customers/{mine.id}", headers=headers)
    assert own.status_code == 200
    assert own.json()["id"] == mine.id

    response = client.get(f"/v1/customers/{other.id}", headers=headers)
    body = assert_problem(response, 404)
    assert other.name not in response.text
    # The same answer as for a customer that does not exist at all: nothing leaks.
    missing = client.get("/v1/customers/987654", headers=headers)
    assert missing.status_code == 404
    assert body["title"] == missing.json()["title"]


def test_customer_token_reads_its_own_contract_and_not_another(
    client: TestClient, session: Session, customer_headers: CustomerHeaders
) -> None:
    mine = create_contract(session)
    theirs = create_contract(session)
    headers = customer_headers(mine.customer_id)

    own = client.get(f"/v1/contracts/{mine.id}", headers=headers)
    assert own.status_code == 200
    assert own.json()["id"] == mine.id

    assert_problem(client.get(f"/v1/contracts/{theirs.id}", headers=headers), 404)


def test_customer_token_lists_only_its_own_contracts(
    client: TestClient, session: Session, customer_headers: CustomerHeaders
) -> None:
    customer = create_customer(session)
    other = create_customer(session)
    plan = create_plan(session)
    mine = [create_contract(session, customer=customer, plan=plan) for _ in range(2)]
    create_contract(session, customer=other, plan=plan)
    assert customer.id is not None
    headers = customer_headers(customer.id)

    listed = client.get("/v1/contracts", headers=headers).json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(c.id for c in mine)
    assert listed["next_cursor"] is None
    # Asking for the other customer's contracts by filter shows nothing either.
    filtered = client.get("/v1/contracts", params={"customer_id": other.id}, headers=headers)
    assert filtered.status_code == 200
    assert filtered.json()["items"] == []


def test_customer_token_lists_only_its_own_customer(
    client: TestClient, session: Session, customer_headers: CustomerHeaders, finance: Headers
) -> None:
    customers = [create_customer(session) for _ in range(3)]
    mine = customers[1]
    assert mine.id is not None
    listed = client.get("/v1/customers", headers=customer_headers(mine.id)).json()
    assert [item["id"] for item in listed["items"]] == [mine.id]
    everyone = client.get("/v1/customers", headers=finance).json()
    assert {c.id for c in customers} <= {item["id"] for item in everyone["items"]}


# --- tokens: random, stored hashed, bound where they must be -----------------------------


def test_tokens_are_stored_only_as_sha256(session: Session) -> None:
    row, token = create_token(session, role=Role.FINANCE, name="hashed")
    stored = session.execute(
        sa.text("SELECT * FROM api_tokens WHERE id = :id"), {"id": row.id}
    ).one()
    assert all(token not in str(value) for value in stored)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(row.token_hash) == 64
    # The prefix kept to recognise a token is far too short to use it.
    assert token.startswith(row.prefix)
    assert len(row.prefix) <= 10 < len(token)


def test_tokens_are_random_and_long(session: Session) -> None:
    tokens = {create_token(session, role=Role.SUPPORT)[1] for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) >= 40 for token in tokens)


def test_authenticate_returns_the_role_and_customer(session: Session) -> None:
    customer = create_customer(session)
    row, token = create_token(session, role=Role.CUSTOMER, customer_id=customer.id)
    principal = authenticate(session, token)
    assert principal is not None
    assert principal.role is Role.CUSTOMER
    assert principal.customer_id == customer.id
    assert principal.visible_customer == customer.id
    assert authenticate(session, token + "x") is None
    assert authenticate(session, row.token_hash) is None  # the hash is not a credential


def test_a_customer_token_must_name_an_existing_customer(session: Session) -> None:
    before = session.scalar(sa.select(sa.func.count()).select_from(ApiToken))
    with pytest.raises(InvalidInput) as missing:
        create_token(session, role=Role.CUSTOMER)
    assert missing.value.field == "customer_id"
    with pytest.raises(InvalidInput) as unknown:
        create_token(session, role=Role.CUSTOMER, customer_id=987_654)
    assert unknown.value.field == "customer_id"
    customer = create_customer(session)
    with pytest.raises(InvalidInput):
        create_token(session, role=Role.FINANCE, customer_id=customer.id)
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == before


def test_the_token_lookup_is_one_statement_outside_a_transaction_on_postgresql(
    fresh_database: str,
) -> None:
    """Issue #12: every request checks its token; on PostgreSQL in autocommit (no BEGIN and
    ROLLBACK round trips around the one SELECT); on SQLite in a deferred transaction, which
    never takes the write lock. A revoked token is still refused at once."""
    from app.db import make_engine, session_factory
    from app.main import create_app
    from app.settings import Settings

    engine = make_engine(fresh_database)
    try:
        with session_factory(engine)() as setup:
            row, token = create_token(setup, role=Role.FINANCE)
            setup.commit()
        app = create_app(Settings(database_url=fresh_database), engine=engine)
        lookups: list[bool] = []

        def record(conn: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
            if "api_tokens.token_hash =" in statement:
                dbapi = conn.connection.dbapi_connection
                lookups.append(bool(getattr(dbapi, "autocommit", False)))

        sa.event.listen(engine, "before_cursor_execute", record)
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/v1/plans", headers=headers).status_code == 200
            with session_factory(engine)() as revoking:
                revoked = revoking.get(ApiToken, row.id)
                assert revoked is not None
                revoked.revoked_at = utcnow()
                revoking.commit()
            assert client.get("/v1/plans", headers=headers).status_code == 401
        assert lookups == [engine.dialect.name == "postgresql"] * 2
    finally:
        engine.dispose()


def test_the_role_check_stays_on_the_event_loop() -> None:
    """A role check awaits nothing: as a plain function FastAPI would send it to the thread
    pool and back on every request (issue #12)."""
    import inspect

    from app.auth.tokens import Role
    from app.dependencies import require

    assert inspect.iscoroutinefunction(require(Role.FINANCE, Role.SUPPORT))
