"""Two requests racing for a contract's last authorized-contact slot: exactly one gets it.

PostgreSQL only: real commits on a database of the test's own, several connections at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.auth.tokens import Role
from app.db import make_engine, session_factory, unit_of_work
from app.main import create_app
from app.settings import Settings
from ledger.errors import LimitExceeded
from ledger.sla.contacts import add_contact
from ledger.sla.models import AuthorizedContact
from ledger.sla.schemas import ContactCreate
from tests.factories import bearer, create_contract, create_plan

pytestmark = pytest.mark.postgres_only


def _count(engine: sa.Engine, contract_id: int) -> int:
    with engine.connect() as connection:
        query = (
            sa.select(sa.func.count())
            .select_from(AuthorizedContact)
            .where(AuthorizedContact.contract_id == contract_id)  # type: ignore[arg-type]
        )
        return connection.scalar(query) or 0


def test_a_second_writer_waits_for_the_first_and_sees_its_contact(
    fresh_database: str, db_kind: str
) -> None:
    """The first writer holds the contract lock while it sleeps before committing; without the
    lock the second would count zero contacts and add its own too."""
    engine = make_engine(fresh_database)
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        contract = create_contract(session, plan=create_plan(session, authorized_contacts=1))
        contract_id = contract.id
    assert contract_id is not None
    first_added = threading.Event()
    outcomes: dict[str, str] = {}

    def writer(name: str, *, hold_seconds: float) -> None:
        session = factory()
        try:
            add_contact(session, contract_id, ContactCreate(name=name, email=f"{name}@c.example"))
            first_added.set()
            time.sleep(hold_seconds)
            session.commit()
            outcomes[name] = "added"
        except LimitExceeded:
            session.rollback()
            outcomes[name] = "refused"
        finally:
            first_added.set()
            session.close()

    first = threading.Thread(target=writer, args=("ana",), kwargs={"hold_seconds": 0.5})
    first.start()
    assert first_added.wait(10)
    second = threading.Thread(target=writer, args=("bo",), kwargs={"hold_seconds": 0})
    second.start()
    first.join(20)
    second.join(20)

    assert outcomes == {"ana": "added", "bo": "refused"}
    assert _count(engine, contract_id) == 1
    engine.dispose()


def _race(
    app: Any,
    url: str,
    headers: dict[str, str],
    name: str,
    barrier: threading.Barrier,
    responses: list[tuple[int, Any]],
) -> None:
    with TestClient(app) as client:
        barrier.wait(10)
        response = client.post(
            url, json={"name": name, "email": f"{name}@c.example"}, headers=headers
        )
        responses.append((response.status_code, response.json()))


def test_two_requests_racing_for_the_last_slot(fresh_database: str, db_kind: str) -> None:
    engine = make_engine(fresh_database)
    factory = session_factory(engine)
    contract_ids: list[int] = []
    with unit_of_work(factory) as session:
        headers = bearer(session, Role.FINANCE)
        plan = create_plan(session, authorized_contacts=2)
        for _ in range(5):
            contract = create_contract(session, plan=plan)
            assert contract.id is not None
            contract_ids.append(contract.id)
    app = create_app(Settings(database_url=fresh_database), engine=engine)

    for contract_id in contract_ids:
        url = f"/v1/contracts/{contract_id}/contacts"
        with TestClient(app) as client:
            seeded = {"name": "Ana", "email": "ana@c.example"}
            assert client.post(url, json=seeded, headers=headers).status_code == 201
        barrier = threading.Barrier(2)
        responses: list[tuple[int, Any]] = []
        threads = [
            threading.Thread(target=_race, args=(app, url, headers, name, barrier, responses))
            for name in ("bo", "cy")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        statuses = sorted(status for status, _ in responses)
        assert statuses == [201, 409], responses
        assert _count(engine, contract_id) == 2
    engine.dispose()
