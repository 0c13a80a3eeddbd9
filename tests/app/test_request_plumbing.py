"""What a request costs besides its work (issue #12): the thread-pool trips it takes and the
response it gets, which must be byte for byte what FastAPI itself would have built."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import anyio.to_thread
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.auth.tokens import Role
from app.db import make_engine, session_factory
from app.main import create_app
from app.settings import Settings
from tests.factories import bearer, create_contract, create_customer, create_plan

Headers = dict[str, str]


@pytest.fixture
def served(fresh_database: str) -> Iterator[tuple[TestClient, Headers, int, sa.Engine]]:
    """The app on a real engine (as `hourglass serve` runs it): a finance token, a contract."""
    engine = make_engine(fresh_database)
    try:
        with session_factory(engine)() as setup:
            contract = create_contract(
                setup,
                plan=create_plan(setup),
                customer=create_customer(setup),
                start_date=date(2026, 1, 1),
            )
            headers = bearer(setup, Role.FINANCE)
            setup.commit()
        app = create_app(Settings(database_url=fresh_database), engine=engine)
        with TestClient(app) as client:
            assert contract.id is not None
            yield client, headers, contract.id, engine
    finally:
        engine.dispose()


def _trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function sent to the thread pool, by name."""
    trips: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        inner = func
        while isinstance(inner, functools.partial):
            inner = inner.func
        trips.append(getattr(inner, "__name__", repr(inner)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return trips


def test_a_read_and_a_write_take_only_the_thread_trips_they_need(
    served: tuple[TestClient, Headers, int, sa.Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GET: the token lookup and the endpoint (its session opens without I/O, its response
    is serialised in the endpoint's thread, and it ends without a round trip). A POST: those
    and its commit. FastAPI's own way took five trips for either."""
    client, headers, contract_id, _ = served
    trips = _trips(monkeypatch)
    response = client.get(f"/v1/contracts/{contract_id}/balance", headers=headers)
    assert response.status_code == 200, response.text
    assert len(trips) == 2 and trips[0] == "principal_of", trips  # then the endpoint
    trips.clear()
    entry = {"worked_on": "2026-01-05", "minutes": 30, "ticket_ref": "T-1", "level": 1}
    response = client.post(f"/v1/contracts/{contract_id}/work-entries", json=entry, headers=headers)
    assert response.status_code == 201, response.text
    assert len(trips) == 3 and trips[0] == "principal_of" and trips[2] == "commit", trips


def test_a_read_runs_in_autocommit_on_postgresql_and_never_writes_on_sqlite(
    served: tuple[TestClient, Headers, int, sa.Engine],
) -> None:
    """A GET's statements run on a read-only connection: autocommit on PostgreSQL (no BEGIN),
    a deferred BEGIN on SQLite (never the write lock); a POST's in one transaction."""
    client, headers, contract_id, engine = served
    seen: list[tuple[str, bool]] = []

    def record(conn: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
        dbapi = conn.connection.dbapi_connection
        autocommit = bool(getattr(dbapi, "autocommit", False))
        seen.append((statement.strip().upper(), autocommit))

    sa.event.listen(engine, "before_cursor_execute", record)
    response = client.get(f"/v1/contracts/{contract_id}/balance", headers=headers)
    assert response.status_code == 200, response.text
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        assert seen and all(autocommit for _, autocommit in seen), seen
    else:
        begins = [statement for statement, _ in seen if statement.startswith("BEGIN")]
        assert begins and all(statement == "BEGIN" for statement in begins), begins
    seen.clear()
    entry = {"worked_on": "2026-01-05", "minutes": 30, "ticket_ref": "T-1", "level": 1}
    response = client.post(f"/v1/contracts/{contract_id}/work-entries", json=entry, headers=headers)
    assert response.status_code == 201, response.text
    writes = [autocommit for sql, autocommit in seen if sql.startswith(("INSERT", "UPDATE"))]
    assert writes and not any(writes)
    if not postgres:  # the write's own unit of work takes the write lock at once
        assert "BEGIN IMMEDIATE" in [statement for statement, _ in seen]


READS = [
    "/v1/plans",
    "/v1/customers",
    "/v1/contracts",
    "/v1/contracts/{id}",
    "/v1/contracts/{id}/balance",
    "/v1/contracts/{id}/work-entries",
    "/v1/contracts/{id}/work-entries?limit=1",
    "/v1/contracts/999999",
    "/v1/contracts/{id}/balance?at=not-a-time",
    "/v1/invoices",
]


def test_every_response_is_the_one_fastapi_would_build(
    served: tuple[TestClient, Headers, int, sa.Engine],
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[datetime], None],
) -> None:
    """The same app with FastAPI serialising as it does by itself gives the same status,
    headers and bytes for reads of every shape (a page, a model, a problem, a 422)."""
    clock(datetime(2026, 1, 20, 12, tzinfo=UTC))
    client, headers, contract_id, engine = served
    for i in range(3):
        entry = {"worked_on": f"2026-01-0{i + 2}", "minutes": 45, "ticket_ref": "T", "level": 1}
        posted = client.post(
            f"/v1/contracts/{contract_id}/work-entries", json=entry, headers=headers
        )
        assert posted.status_code == 201, posted.text
    monkeypatch.setattr("app.idempotency.claims.wrap_routes", lambda app, finished: None)
    plain = create_app(
        Settings(database_url=engine.url.render_as_string(hide_password=False)), engine=engine
    )
    with TestClient(plain) as by_fastapi:
        for path in READS:
            read = path.format(id=contract_id)
            ours, theirs = client.get(read, headers=headers), by_fastapi.get(read, headers=headers)
            assert ours.status_code == theirs.status_code, read
            assert ours.content == theirs.content, read
            assert _headers(ours) == _headers(theirs), read


def _headers(response: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items() if k != "x-request-id"]
