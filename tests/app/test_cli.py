"""The `hourglass` command, run as a subprocess against a temporary SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token, hash_token
from app.db import make_engine
from app.main import create_app
from app.migrations import alembic_config, upgrade
from app.settings import Settings
from app.tables import metadata

HOURGLASS = Path(sys.executable).parent / "hourglass"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hourglass.db'}"


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOURGLASS_")}
    environment["HOURGLASS_DATABASE_URL"] = database_url
    return environment


def hourglass(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert HOURGLASS.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.run(
        [str(HOURGLASS), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def sqlite_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(sqlite_engine: sa.Engine) -> sa.Engine:
    """The same database, migrated in-process (quicker than one more subprocess)."""
    upgrade(sqlite_engine)
    return sqlite_engine


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
        }


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_db_upgrade_then_a_finance_token_authenticates(
    env: dict[str, str], tmp_path: Path, database_url: str, sqlite_engine: sa.Engine
) -> None:
    upgraded = hourglass(env, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite_engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == head()

    created = hourglass(env, tmp_path, "token", "create", "--role", "finance", "--name", "x")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    token = lines[-1]
    assert token == token.strip() and " " not in token and len(token) >= 40
    assert all(token not in line for line in lines[:-1])  # shown once, alone

    with sqlite_engine.connect() as connection:
        row = connection.execute(sa.text("SELECT name, role, token_hash FROM api_tokens")).one()
    assert tuple(row) == ("x", "finance", hash_token(token))

    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        for bearer, status in ((token, 200), ("x" + token, 401)):
            response = client.get("/v1/plans", headers={"Authorization": f"Bearer {bearer}"})
            assert response.status_code == status
    app.state.engine.dispose()


def test_a_customer_token_needs_a_customer(
    env: dict[str, str], tmp_path: Path, migrated: sa.Engine
) -> None:
    result = hourglass(env, tmp_path, "token", "create", "--role", "customer")
    assert result.returncode != 0
    assert "--customer" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == ""
    with migrated.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM api_tokens")) == 0


def test_demo_loads_data_once_and_a_customer_token_sees_only_its_own(
    env: dict[str, str], tmp_path: Path, database_url: str, sqlite_engine: sa.Engine
) -> None:
    first = hourglass(env, tmp_path, "demo")  # migrates by itself
    assert first.returncode == 0, first.stderr
    loaded = snapshot(sqlite_engine)
    assert len(loaded["plans"]) >= 2
    assert len(loaded["customers"]) >= 2
    assert len(loaded["contracts"]) >= len(loaded["customers"])
    assert loaded["work_entries"]  # SPEC: "… and a month of work"

    second = hourglass(env, tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    assert "already" in second.stdout
    assert snapshot(sqlite_engine) == loaded

    customer_id = loaded["customers"][0][0]
    with Session(sqlite_engine) as session:
        _, token = create_token(session, role=Role.CUSTOMER, customer_id=customer_id)
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        contracts = client.get("/v1/contracts", headers=headers).json()["items"]
        assert [c["customer_id"] for c in contracts] == [customer_id]
        assert client.get("/v1/plans", headers=headers).status_code == 403
    app.state.engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_migrates_then_answers_health_and_openapi(
    env: dict[str, str], tmp_path: Path, sqlite_engine: sa.Engine
) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [str(HOURGLASS), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"hourglass serve exited early:\n{server.stdout.read()}")  # type: ignore[union-attr]
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, "hourglass serve did not answer within 60 s"
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}

        spec = httpx.get(f"{base}/openapi.json", timeout=5)
        assert spec.status_code == 200
        assert {"/v1/plans", "/v1/customers", "/v1/contracts"} <= set(spec.json()["paths"])

        assert httpx.get(f"{base}/v1/plans", timeout=5).status_code == 401
        with sqlite_engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == head()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        if server.stdout:
            server.stdout.close()


def test_without_the_schema_a_command_says_so_in_one_line_and_creates_no_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`hourglass billing run` from a directory with no ./hourglass.db (the default URL)."""
    env = {k: v for k, v in env.items() if k != "HOURGLASS_DATABASE_URL"}
    for args in (
        ("billing", "run", "--period", "2026-01"),
        ("token", "list"),
        ("token", "create", "--role", "finance"),
        ("payments", "collect"),
    ):
        result = hourglass(env, tmp_path, *args)
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert lines == [
            "error: the database sqlite:///./hourglass.db has no Hourglass schema;"
            " create it with: hourglass db upgrade"
        ], (args, result.stderr)
        assert list(tmp_path.iterdir()) == [], args


def test_an_empty_database_is_named_without_its_password(
    env: dict[str, str], tmp_path: Path, sqlite_engine: sa.Engine, database_url: str
) -> None:
    with sqlite_engine.connect() as connection:  # the file exists, the schema does not
        connection.execute(sa.text("CREATE TABLE unrelated (id INTEGER)"))
        connection.commit()
    result = hourglass(env, tmp_path, "token", "list")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f"error: the database {database_url} has no Hourglass schema;"
        " create it with: hourglass db upgrade"
    )
    unreachable = env | {"HOURGLASS_DATABASE_URL": "postgresql://hg:s3cret@127.0.0.1:9/hg"}
    result = hourglass(unreachable, tmp_path, "token", "list")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "s3cret" not in result.stderr and "127.0.0.1:9" in result.stderr


def test_every_error_has_one_style(
    env: dict[str, str], tmp_path: Path, migrated: sa.Engine
) -> None:
    for args in (
        ("billing", "run"),  # a missing option: the parser's error, in our style
        ("no-such-command",),
        ("token", "revoke", "not-a-number"),
        ("token", "revoke", "4242"),
        ("token", "create", "--role", "customer"),
        ("billing", "run", "--period", "2026-13"),
    ):
        result = hourglass(env, tmp_path, *args)
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        for noise in ("Traceback", "Error:", "╭", "│", "Value error"):
            assert noise not in result.stderr + result.stdout, (args, noise)


def test_token_list_and_revoke(
    env: dict[str, str], tmp_path: Path, migrated: sa.Engine, database_url: str
) -> None:
    created = hourglass(env, tmp_path, "token", "create", "--role", "support", "--name", "desk")
    token = created.stdout.splitlines()[-1]
    listed = hourglass(env, tmp_path, "token", "list")
    assert listed.returncode == 0, listed.stderr
    assert "desk" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout and hash_token(token) not in listed.stdout
    as_json = hourglass(env, tmp_path, "token", "list", "--json")
    (row,) = __import__("json").loads(as_json.stdout)
    assert (row["name"], row["role"], row["revoked_at"]) == ("desk", "support", None)

    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/incidents", headers=headers).status_code == 200
        revoked = hourglass(env, tmp_path, "token", "revoke", str(row["id"]))
        assert revoked.returncode == 0, revoked.stderr
        assert client.get("/v1/incidents", headers=headers).status_code == 401
    app.state.engine.dispose()
    assert "revoked" in hourglass(env, tmp_path, "token", "list").stdout
