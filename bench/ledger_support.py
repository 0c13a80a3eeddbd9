"""What the ledger benches share, and nothing from the tests: a throwaway PostgreSQL, a
database context, data made through the services, a finance token, percentiles.

(The PostgreSQL starter mirrors the test suite's on purpose: benches and tests import nothing
from each other, so either can change freely.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from itertools import count
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token
from ledger.catalog.models import Plan
from ledger.catalog.schemas import PlanCreate
from ledger.catalog.service import create_plan as create_plan_service
from ledger.contracts.models import Contract
from ledger.contracts.schemas import ContractCreate
from ledger.contracts.service import create_contract as create_contract_service
from ledger.customers.models import Customer
from ledger.customers.schemas import CustomerCreate
from ledger.customers.service import create_customer as create_customer_service

_sequence = count(1)
BINDIRS = [f"/usr/lib/postgresql/{v}/bin" for v in (15, 16, 17)]

BUSINESS_PLAN: dict[str, Any] = {
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


def create_plan(session: Session, **overrides: Any) -> Plan:
    body = {"code": f"bench-{next(_sequence)}-{uuid4().hex[:6]}", **BUSINESS_PLAN, **overrides}
    return create_plan_service(session, PlanCreate.model_validate(body))


def create_customer(session: Session, **overrides: Any) -> Customer:
    body = {
        "name": f"Bench customer {next(_sequence)}",
        "email": "billing@customer.example",
        "country": "DE",
        "timezone": "Europe/Berlin",
        "holiday_region": "DE-BE",
        **overrides,
    }
    return create_customer_service(session, CustomerCreate.model_validate(body))


def create_contract(
    session: Session, *, plan: Plan, customer: Customer, start_date: date, **overrides: Any
) -> Contract:
    body = {
        "customer_id": customer.id,
        "plan_code": plan.code,
        "start_date": start_date.isoformat(),
        **overrides,
    }
    return create_contract_service(session, ContractCreate.model_validate(body))


def finance_token(session: Session) -> str:
    _, token = create_token(session, role=Role.FINANCE, name="bench")
    return token


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    """A fresh database URL: a new database on a throwaway PostgreSQL, the given URL, or a
    temporary SQLite file."""
    if args.postgres:
        with throwaway_postgres() as admin_url:
            name = f"bench_{uuid4().hex[:8]}"
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return
    if args.database_url:
        yield args.database_url
        return
    with tempfile.TemporaryDirectory(prefix="hourglass-bench-") as scratch:
        yield f"sqlite:///{Path(scratch) / 'bench.db'}"


def _bindir() -> Path:
    for candidate in [os.environ.get("HOURGLASS_TEST_PG_BINDIR", ""), *BINDIRS]:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL on a free loopback port, durability off; yields its admin URL."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="hourglass-bench-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        os.chmod(root, 0o700)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    log = root / "server.log"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    initdb += ["-E", "UTF8", "--no-sync", "--locale=C.UTF-8"]
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(_as_server_user(initdb), check=True, capture_output=True)
        start = [*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", "60", "start"]
        subprocess.run(_as_server_user(start), check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {log}") from None
                time.sleep(0.1)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [*pg_ctl, "-m", "immediate", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
