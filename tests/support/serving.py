"""Real `hourglass` processes for the operations tests: servers on free ports, readiness,
a month of seeded contracts, and what the database says afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import sqlalchemy as sa

from app.db import make_engine, normalise_url, session_factory, unit_of_work
from invoices.runs.auto import due_month
from ledger.base import utcnow
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from tests.factories import create_contract, create_plan
from tests.invoices.billing.helpers import HOURGLASS, cli_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    environment = {**cli_env(url), **env}
    return subprocess.Popen(
        [str(HOURGLASS), *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its worker processes are stopped with it
    )


def wait_ready(port: int, process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the server exited: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the server on port {port} never became ready")


def stop(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """SIGTERM to the process group; its output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
    return process.stdout.read() if process.stdout else ""


@dataclass(frozen=True)
class Seeded:
    month: date  # the month auto billing is due to bill now
    contract_ids: list[int]


def seed_due_month(url: str, *, contracts: int) -> Seeded:
    """Contracts that start on the first day of the month that is due now, with some work."""
    month = due_month(utcnow())
    engine = make_engine(url, poolclass=sa.NullPool)
    ids = []
    try:
        with unit_of_work(session_factory(engine)) as session:
            plan = create_plan(session)
            for index in range(contracts):
                contract = create_contract(session, plan=plan, start_date=month, committed_months=0)
                assert contract.id is not None
                ids.append(contract.id)
                post_work(
                    session,
                    contract.id,
                    WorkEntryCreate(
                        worked_on=month.replace(day=10),
                        minutes=60 * (index + 1),
                        level=1,
                        ticket_ref=f"S-{index}",
                        description="seeded work",
                    ),
                )
    finally:
        engine.dispose()
    return Seeded(month=month, contract_ids=ids)


def read_rows(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(normalise_url(url), poolclass=sa.NullPool)  # no write lock
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)).all())
    finally:
        engine.dispose()


def wait_for_auto_run(url: str, month: date, *, timeout: float = 240) -> list[Any]:
    """The billing runs of `month` once one has finished (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = read_rows(
            url,
            "SELECT id, status FROM billing_runs "
            f"WHERE period_start = '{month.isoformat()}' ORDER BY id",
        )
        if (runs and all(status != "running" for _, status in runs)) or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)
