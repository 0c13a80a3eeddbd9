"""Auto billing with real processes and the real clock: the month that has just ended
everywhere is billed by itself, once — by two `hourglass serve` processes on one SQLite file,
and by three `hourglass billing worker` processes on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.serving import (
    Seeded,
    free_port,
    read_rows,
    seed_due_month,
    start,
    stop,
    wait_for_auto_run,
    wait_ready,
)

AUTO = {"HOURGLASS_AUTO_BILLING": "true"}


def _billed_once(url: str, seeded: Seeded) -> None:
    runs = wait_for_auto_run(url, seeded.month)
    assert [status for _, status in runs] == ["completed"], runs
    claims = read_rows(url, "SELECT period_start, run_id FROM auto_billing_runs")
    assert [(str(period)[:10], run_id) for period, run_id in claims] == [
        (seeded.month.isoformat(), runs[0][0])
    ]
    invoices = read_rows(url, "SELECT contract_id, period_label, billing_run_id FROM invoices")
    label = seeded.month.strftime("%Y-%m")
    assert sorted(tuple(row) for row in invoices) == sorted(
        (cid, label, runs[0][0]) for cid in seeded.contract_ids
    )


def test_two_servers_on_one_sqlite_file(fresh_database: str, db_kind: str) -> None:
    if db_kind != "sqlite":
        pytest.skip("the SQLite deployment: one file, several API processes")
    seeded = seed_due_month(fresh_database, contracts=4)
    ports = [free_port(), free_port()]
    servers = [start(fresh_database, "serve", "--port", str(port), **AUTO) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_ready(port, server)
        _billed_once(fresh_database, seeded)
    finally:
        outputs = [stop(server) for server in servers]
    # Two processes share SQLite's one writer: a background tick that found the file locked is
    # logged with its traceback and retried by the next tick; nothing else may fail.
    tracebacks = [
        block
        for output in outputs
        for block in output.split("Traceback")[1:]
        if "database is locked" not in block
    ]
    assert not tracebacks, "\n---\n".join(block[:3000] for block in tracebacks)


@pytest.mark.postgres_only
def test_three_workers_on_postgresql(fresh_database: str, db_kind: str) -> None:
    seeded = seed_due_month(fresh_database, contracts=9)
    workers = [start(fresh_database, "billing", "worker", **AUTO) for _ in range(3)]
    try:
        _billed_once(fresh_database, seeded)
    finally:
        outputs = [stop(worker) for worker in workers]
    assert all("Traceback" not in output for output in outputs), outputs
