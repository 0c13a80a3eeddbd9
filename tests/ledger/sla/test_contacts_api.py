"""Authorized contacts through the HTTP API: the plan's limit, duplicates, removal, roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ledger.sla.models import AuthorizedContact
from tests.ledger.sla.test_availability_api import assert_problem, setup_contract

Headers = dict[str, str]


def contact(name: str, email: str, phone: str | None = None) -> dict[str, Any]:
    return {"name": name, "email": email, "phone": phone}


def stored(session: Session, contract_id: int) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(AuthorizedContact)
        .where(AuthorizedContact.contract_id == contract_id)  # type: ignore[arg-type]
    )
    return session.scalar(query) or 0


def test_the_plan_limit_refuses_one_contact_too_many_and_writes_nothing(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = setup_contract(client, finance, plan={"authorized_contacts": 1})
    url = f"/v1/contracts/{contract['id']}/contacts"
    first = client.post(
        url, json=contact("Ana Lima", "ana@c1.example", "+49 30 1234"), headers=finance
    )
    assert first.status_code == 201, first.text
    assert first.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "contract_id": contract["id"],
        "name": "Ana Lima",
        "email": "ana@c1.example",
        "phone": "+49 30 1234",
        "created_at": "",
    }

    second = client.post(url, json=contact("Bo Berg", "bo@c1.example"), headers=finance)

    body = assert_problem(second, 409)
    assert body["title"] == "Limit exceeded"
    assert f"plan {contract['plan_code']!r} allows 1 authorized contact;" in body["detail"]
    assert stored(session, contract["id"]) == 1
    assert [c["email"] for c in client.get(url, headers=finance).json()["items"]] == [
        "ana@c1.example"
    ]


def test_removing_a_contact_frees_its_slot(
    client: TestClient, finance: Headers, session: Session
) -> None:
    contract = setup_contract(client, finance, plan={"authorized_contacts": 2})
    url = f"/v1/contracts/{contract['id']}/contacts"
    ana = client.post(url, json=contact("Ana", "ana@c1.example"), headers=finance).json()
    client.post(url, json=contact("Bo", "bo@c1.example"), headers=finance)
    body = assert_problem(
        client.post(url, json=contact("Cy", "cy@c1.example"), headers=finance), 409
    )
    assert "allows 2 authorized contacts" in body["detail"]

    removed = client.delete(f"{url}/{ana['id']}", headers=finance)
    assert removed.status_code == 204
    assert removed.content == b""
    assert client.post(url, json=contact("Cy", "cy@c1.example"), headers=finance).status_code == 201
    assert stored(session, contract["id"]) == 2
    assert_problem(client.delete(f"{url}/{ana['id']}", headers=finance), 404)


def test_the_same_email_twice_on_a_contract_is_a_conflict(
    client: TestClient, finance: Headers
) -> None:
    first = setup_contract(client, finance)
    second = setup_contract(client, finance)
    url = f"/v1/contracts/{first['id']}/contacts"
    assert (
        client.post(url, json=contact("Ana", "Ana@C1.example"), headers=finance).status_code == 201
    )
    duplicate = client.post(url, json=contact("Ana L.", "ana@c1.EXAMPLE"), headers=finance)
    assert_problem(duplicate, 409, "email")
    # Another contract may name the same person.
    other = client.post(
        f"/v1/contracts/{second['id']}/contacts",
        json=contact("Ana", "ana@c1.example"),
        headers=finance,
    )
    assert other.status_code == 201


def test_a_plan_without_a_limit_takes_any_number_of_contacts(
    client: TestClient, finance: Headers
) -> None:
    contract = setup_contract(client, finance)
    url = f"/v1/contracts/{contract['id']}/contacts"
    for number in range(5):
        response = client.post(
            url, json=contact(f"P{number}", f"p{number}@c.example"), headers=finance
        )
        assert response.status_code == 201, response.text
    page = client.get(f"{url}?limit=3", headers=finance).json()
    assert len(page["items"]) == 3
    rest = client.get(f"{url}?limit=3&cursor={page['next_cursor']}", headers=finance).json()
    assert [c["name"] for c in rest["items"]] == ["P3", "P4"]
    assert rest["next_cursor"] is None


def test_contact_input_is_validated(client: TestClient, finance: Headers) -> None:
    contract = setup_contract(client, finance)
    url = f"/v1/contracts/{contract['id']}/contacts"
    assert_problem(
        client.post(url, json=contact("Ana", "not-an-email"), headers=finance), 422, "email"
    )
    assert_problem(
        client.post(url, json=contact(" ", "ana@c.example"), headers=finance), 422, "name"
    )
    assert_problem(
        client.post(url, json=contact("Ana", "ana@c.example", "call me"), headers=finance),
        422,
        "phone",
    )
    assert_problem(
        client.post(
            "/v1/contracts/999999/contacts", json=contact("A", "a@c.example"), headers=finance
        ),
        404,
    )


def test_roles_and_customer_isolation(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
) -> None:
    mine = setup_contract(client, finance)
    other = setup_contract(client, finance)
    owner = customer_headers(mine["customer_id"])
    stranger = customer_headers(other["customer_id"])
    url = f"/v1/contracts/{mine['id']}/contacts"
    ana = client.post(url, json=contact("Ana", "ana@c1.example"), headers=finance).json()

    assert_problem(client.post(url, json=contact("Bo", "bo@c1.example"), headers=support), 403)
    assert_problem(client.post(url, json=contact("Bo", "bo@c1.example"), headers=owner), 403)
    assert_problem(client.delete(f"{url}/{ana['id']}", headers=support), 403)
    assert_problem(client.delete(f"{url}/{ana['id']}", headers=owner), 403)
    # Support checks who may open tickets; the customer sees its own list.
    assert [c["id"] for c in client.get(url, headers=support).json()["items"]] == [ana["id"]]
    assert [c["id"] for c in client.get(url, headers=owner).json()["items"]] == [ana["id"]]
    assert_problem(client.get(url, headers=stranger), 404)
    # A contact of another contract is not found through this one.
    their_url = f"/v1/contracts/{other['id']}/contacts"
    assert_problem(client.delete(f"{their_url}/{ana['id']}", headers=finance), 404)
