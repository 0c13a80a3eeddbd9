"""PostgreSQL pool: a connection idle in the pool is pinged before use, a busy one is not.

`pool_pre_ping` pinged on every checkout (two round trips per request); `app.db` pings only
connections idle for `IDLE_PING_SECONDS`, and still replaces a dead one (issue #12)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import app.db
from app.db import make_engine

pytestmark = pytest.mark.postgres_only


def _pings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def test_a_connection_back_from_a_request_is_reused_without_a_ping(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(fresh_database, pool_size=1)
    try:
        pings = _pings(engine, monkeypatch)
        for _ in range(3):
            with engine.connect() as connection:
                assert connection.scalar(sa.text("SELECT 1")) == 1
        assert pings == []
        monkeypatch.setattr(app.db, "IDLE_PING_SECONDS", 0.0)  # now every one has been idle
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT 1")) == 1
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_connection_that_died_in_the_pool_is_replaced(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(fresh_database, pool_size=1)
    other = make_engine(fresh_database, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            pid = connection.scalar(sa.text("SELECT pg_backend_pid()"))
        with other.connect() as admin:  # the server drops the pooled, idle connection
            assert admin.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        monkeypatch.setattr(app.db, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()
        other.dispose()
