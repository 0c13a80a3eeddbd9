"""What the benchmarks share: a throwaway PostgreSQL server, small data factories, and
`hourglass serve` with a keep-alive client over loopback HTTP.

Benchmarks import no test code (the suite must be free to change), so this is their own copy.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CANDIDATE_BINDIRS = [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
]


def _bindir() -> Path:
    for candidate in [os.environ.get("HOURGLASS_TEST_PG_BINDIR", ""), *CANDIDATE_BINDIRS]:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql-15 "
        "or set HOURGLASS_TEST_POSTGRES_URL to an existing server"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(base: str, server: subprocess.Popen[Any]) -> None:
    """Until `hourglass serve` at `base` answers `/health` (60 s at most, or until it exits)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("hourglass serve did not start")
        time.sleep(0.2)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yields an admin URL (`postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`)."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="hourglass-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        os.chmod(root, 0o700)
    port = free_port()
    log = root / "server.log"
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            _as_server_user(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        _wait_until_ready(port, log)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text() if log.exists() else ''}")


# --- small factories through the services -------------------------------------------------------

_PLAN: dict[str, object] = {
    "name": "Business support",
    "currency": "EUR",
    "fee": "2000.00",
    "included_hours": "20",
    "overage_rate": "110.00",
    "billing_increment_minutes": 15,
    "pooling_allowed": True,
    "annual_discount_percent": "10",
    "components": [{"name": "platform", "share_percent": "100"}],
}


def create_plan(session: object, **overrides: object) -> object:
    from ledger.catalog.schemas import PlanCreate
    from ledger.catalog.service import create_plan as create

    return create(session, PlanCreate.model_validate({**_PLAN, **overrides}))  # type: ignore[arg-type]


def create_customer(session: object, **overrides: object) -> object:
    from ledger.customers.schemas import CustomerCreate
    from ledger.customers.service import create_customer as create

    data = {
        "name": "Customer GmbH",
        "email": "billing@customer.example",
        "country": "DE",
        "timezone": "Europe/Berlin",
        "holiday_region": "DE-BE",
        **overrides,
    }
    return create(session, CustomerCreate.model_validate(data))  # type: ignore[arg-type]


def create_contract(
    session: object, *, customer: object, plan: object, **overrides: object
) -> object:
    from datetime import date

    from ledger.contracts.schemas import ContractCreate
    from ledger.contracts.service import create_contract as create

    data = {
        "customer_id": customer.id,  # type: ignore[attr-defined]
        "plan_code": plan.code,  # type: ignore[attr-defined]
        "start_date": date(2026, 1, 1),
        "committed_months": 12,
        **overrides,
    }
    return create(session, ContractCreate.model_validate(data))  # type: ignore[arg-type]


# --- `hourglass serve` and a client of it over loopback HTTP -------------------------------------


@contextmanager
def hourglass_serve(url: str, *, workers: int = 1) -> Iterator[tuple[int, subprocess.Popen[Any]]]:
    """`hourglass serve --workers N` on a free loopback port with `url` as its database, until
    it answers `/health`; yields `(port, process)`. The server is stopped (terminate, then kill
    if it has not exited within 30 s) and waited for however the block ends."""
    port = free_port()
    hourglass = Path(sys.executable).with_name("hourglass")
    server = subprocess.Popen(
        [str(hourglass), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=Path(__file__).resolve().parents[1],
        env=os.environ | {"HOURGLASS_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server)
        yield port, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def keep_alive_connection(port: int) -> http.client.HTTPConnection:
    """One connected keep-alive `http.client` connection to loopback `port`, TCP_NODELAY on:
    a few µs of client CPU per request, and no Nagle delay on small requests."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` and every live descendant (its
    threads included; Linux `/proc`): for `hourglass serve --workers N`, the supervisor and its
    worker processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            # After the command name in parentheses (which may hold spaces): field 3 onwards.
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return total
