"""`/health` answers while the process lives; `/ready` only when the database is reachable and
at the latest migration (SPEC "Operations"), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import make_engine
from app.main import create_app
from app.migrations import downgrade
from app.settings import Settings


@pytest.fixture
def serve(database_factory: Any) -> Iterator[Any]:
    """A real app (its own engine, real commits) on a database URL."""
    engines: list[sa.Engine] = []

    def make(url: str) -> TestClient:
        engine = make_engine(url, poolclass=sa.NullPool)
        engines.append(engine)
        return TestClient(create_app(Settings(database_url=url), engine=engine))

    yield make
    for engine in engines:
        engine.dispose()


def test_health_touches_nothing(client: TestClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_at_the_latest_schema(serve: Any, fresh_database: str) -> None:
    response = serve(fresh_database).get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


def test_not_ready_on_an_empty_database(serve: Any, database_factory: Any) -> None:
    url = database_factory.empty()
    try:
        response = serve(url).get("/ready")
    finally:
        database_factory.drop(url)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "no Hourglass schema" in response.json()["detail"]
    if database_factory.kind == "sqlite":
        assert not Path(sa.make_url(url).database or "").exists(), "a probe created the file"


def test_not_ready_one_migration_behind(serve: Any, fresh_database: str) -> None:
    engine = make_engine(fresh_database, poolclass=sa.NullPool)
    downgrade(engine, "-1")
    engine.dispose()
    response = serve(fresh_database).get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == 503 and "hourglass db upgrade" in body["detail"]
    assert serve(fresh_database).get("/health").status_code == 200


@pytest.mark.postgres_only
def test_not_ready_when_the_database_is_unreachable(serve: Any, db_kind: str) -> None:
    response = serve("postgresql://nobody:x@127.0.0.1:1/none").get("/ready")
    assert response.status_code == 503
    assert "not reachable" in response.json()["detail"]
