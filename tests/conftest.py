"""Test databases: every database test runs on SQLite and on a real PostgreSQL.

The schema is built once per engine with `alembic upgrade head` (exercising the migrations).
Each test runs inside a transaction that is rolled back at the end; requests made through the
`client` fixture commit only a savepoint inside it. Tests that need real commits, several
connections or subprocesses take `fresh_database` instead: a new, migrated database of their own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.auth.tokens import Role
from app.db import make_engine
from app.main import create_app
from app.migrations import upgrade
from app.settings import Settings
from tests.factories import bearer
from tests.support.postgres_server import throwaway_postgres

ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        action="append",
        choices=ENGINES,
        help="run database tests only on this engine (repeatable; default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        kinds = metafunc.config.getoption("--db") or list(ENGINES)
        if metafunc.definition.get_closest_marker("postgres_only"):
            kinds = [k for k in kinds if k == "postgresql"]
        metafunc.parametrize("db_kind", kinds, scope="session")


@pytest.fixture(scope="session")
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hourglass-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    existing = os.environ.get("HOURGLASS_TEST_POSTGRES_URL")
    if existing:
        yield existing
        return
    with throwaway_postgres() as url:
        yield url


class DatabaseFactory:
    """Creates migrated databases of one engine kind; PostgreSQL copies a migrated template."""

    def __init__(self, kind: str, scratch: Path, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.scratch = scratch
        self._request = request
        self._template: str | None = None
        self._admin: Engine | None = None

    def _admin_engine(self) -> Engine:
        if self._admin is None:
            url = self._request.getfixturevalue("postgres_admin_url")
            self._admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        return self._admin

    def _url_for(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.scratch / (name + '.db')}"
        return self._admin_engine().url.set(database=name).render_as_string(hide_password=False)

    def _template_url(self) -> str:
        if self._template is None:
            name = f"template_{self.kind}_{uuid4().hex[:8]}"
            if self.kind == "postgresql":
                with self._admin_engine().connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            url = self._url_for(name)
            engine = make_engine(url, poolclass=sa.NullPool)
            upgrade(engine)
            engine.dispose()
            self._template = name
        return self._url_for(self._template)

    def create(self) -> str:
        """A new migrated database; returns its URL."""
        template_url = self._template_url()
        name = f"db_{uuid4().hex[:12]}"
        if self.kind == "sqlite":
            source = Path(sa.make_url(template_url).database or "")
            shutil.copyfile(source, self.scratch / f"{name}.db")
        else:
            with self._admin_engine().connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return self._url_for(name)

    def drop(self, url: str) -> None:
        if self.kind == "postgresql":
            name = sa.make_url(url).database
            with self._admin_engine().connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def empty(self) -> str:
        """A new database with no schema at all (for migration tests)."""
        name = f"empty_{uuid4().hex[:12]}"
        if self.kind == "postgresql":
            with self._admin_engine().connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self._url_for(name)


class Databases:
    """One `DatabaseFactory` and one shared engine per engine kind, for the whole session.

    `db_kind` is a session-scoped parameter, and pytest tears its fixtures down whenever the
    next test has the other kind. Run serially, the tests are ordered so that this happens once;
    a pytest-xdist worker that is given whole files (`--dist loadfile`) alternates the kinds file
    by file. Kept here, each kind's template is migrated once per process whatever the order."""

    def __init__(self, scratch: Path, request: pytest.FixtureRequest) -> None:
        self._scratch = scratch
        self._request = request
        self._factories: dict[str, DatabaseFactory] = {}
        self._engines: dict[str, Engine] = {}

    def factory(self, kind: str) -> DatabaseFactory:
        if kind not in self._factories:
            self._factories[kind] = DatabaseFactory(kind, self._scratch, self._request)
        return self._factories[kind]

    def engine(self, kind: str) -> Engine:
        if kind not in self._engines:
            self._engines[kind] = make_engine(self.factory(kind).create())
        return self._engines[kind]

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def databases(scratch_dir: Path, request: pytest.FixtureRequest) -> Iterator[Databases]:
    held = Databases(scratch_dir, request)
    yield held
    held.dispose()


@pytest.fixture(scope="session")
def database_factory(db_kind: str, databases: Databases) -> DatabaseFactory:
    return databases.factory(db_kind)


@pytest.fixture(scope="session")
def engine(db_kind: str, databases: Databases) -> Engine:
    """The shared, migrated database of this engine kind (tests roll back their changes)."""
    return databases.engine(db_kind)


@pytest.fixture
def connection(engine: Engine) -> Iterator[sa.Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


def _savepoint_session(conn: sa.Connection) -> Session:
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(connection: sa.Connection) -> Iterator[Session]:
    s = _savepoint_session(connection)
    yield s
    s.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="unused-in-tests")


@pytest.fixture
def app(connection: sa.Connection, engine: Engine, settings: Settings) -> Any:
    application = create_app(settings, engine=engine)
    application.state.session_factory = lambda: _savepoint_session(connection)
    return application


@pytest.fixture
def client(app: Any, session: Session) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def finance(session: Session) -> dict[str, str]:
    return bearer(session, Role.FINANCE)


@pytest.fixture
def support(session: Session) -> dict[str, str]:
    return bearer(session, Role.SUPPORT)


@pytest.fixture
def customer_headers(session: Session) -> Callable[[int], dict[str, str]]:
    def make(customer_id: int) -> dict[str, str]:
        return bearer(session, Role.CUSTOMER, customer_id)

    return make


@pytest.fixture
def fresh_database(database_factory: DatabaseFactory) -> Iterator[str]:
    """A migrated database of its own whose changes really commit; dropped afterwards."""
    url = database_factory.create()
    yield url
    database_factory.drop(url)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the service's "now" (`ledger.base.utcnow`) for the rules that depend on it."""
    import ledger.base

    def set_now(instant: datetime) -> None:
        monkeypatch.setattr(ledger.base, "clock", lambda: instant)

    return set_now
