"""Engines and the unit of work.

SQLite (the embedded default) runs one writer at a time: every transaction starts with
`BEGIN IMMEDIATE`, so two requests can never interleave writes to the same allotment; a read
(a GET) begins deferred and takes no lock.
PostgreSQL serialises per contract with row locks taken by the services.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.base import unit_of_work

__all__ = ["make_engine", "normalise_url", "session_factory", "unit_of_work"]


def normalise_url(url: str) -> str:
    """Plain `postgresql://` URLs use psycopg 3, the driver we install."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs
        )
        _sqlite_one_writer(engine)
        return engine
    kwargs.setdefault("connect_args", {"options": f"{SERVER_KEEPALIVES} {NO_JIT}"})
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before it is handed out (a dead one is
# replaced, as `pool_pre_ping` would); one checked in less than this ago is handed out as it
# is. `pool_pre_ping` pinged on every checkout: a round trip each, two per request (token,
# then the request's unit of work), about a fifth of a single post's round trips (issue #12).
IDLE_PING_SECONDS = 5.0
_CHECKED_IN_AT = "hourglass_checked_in_at"


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # `record.info` goes with the DBAPI connection: a new connection has no mark.
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is None or time.monotonic() - checked_in < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another (up to three tries).
            raise sa.exc.DisconnectionError(f"pooled connection is dead: {exc}") from exc


# A billing chunk is claimed by its transaction: the server must drop the session of a worker
# whose machine vanished (no FIN, no RST) to free its chunk. TCP keepalives, asked of the server
# for each session: silent for 10 s, then 3 probes 5 s apart — the chunk is free within 25 s.
# (A killed process closes its socket, which frees the chunk at once.)
SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
)

# PostgreSQL's JIT compiles a query whose estimated cost is high: the run's correlated
# `eligible_contracts` at 100k contracts spent 588 of its 826 ms compiling. Our queries are short
# and indexed; the JIT only adds latency to them.
NO_JIT = "-c jit=off"


def _sqlite_one_writer(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Reads (GET requests) begin deferred: they never take the write lock.
        read_only = connection.get_execution_options().get("hourglass_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
