"""How fast `GET /v1/contracts/{id}/balance` answers when a contract's ledger is large.

The balance reads the running totals on `allotments` and `period_overages` (STYLE: a cached
balance, like Polar's customer meters), never the ledger rows, so its latency should not grow
with the ledger. This measures it for contracts of 10,000 and 1,000,000 ledger entries.

Filling: one contract of the SPEC `business` plan (20 h/month, 15-minute increment) spread
over 120 monthly periods ending with the current month. Each month gets its grant, work
entries of 15 min … 2 h drawing on the allotment and then overage (an entry straddling the
end of the allotment is two rows), and, for months already over, the expiry of what was left
and the closed period. Rows are written in bulk with SQLAlchemy core (explicit ids, consistent
running totals), then the whole ledger is audited (`audit`: every allotment's totals and each
period's overage against the sums of their rows).

Measuring: every size is filled first (then VACUUM and a checkpoint on PostgreSQL, so no
autovacuum of the fill runs during a measurement), then each size's balance is read
`--requests` times with a finance token after a warm-up, all sizes and the floor in one loop
(shuffled within each round): p50/p99 in ms. The client, by default, is what a client of the
service sees: `hourglass serve --workers N` (`--workers`, 1 by default) on the filled database,
read through one keep-alive `http.client` connection with TCP_NODELAY. `--in-process` is the
first way: the real app (`create_app`) in this process through FastAPI's TestClient, whose
anyio portal thread and httpx transport add ~2-3 ms a request that no client pays. Beside them,
from the same loop: the floor (`GET /health` through the same client: the framework's own
cost, no token, no query) and one SQL `SUM` over the contract's ledger (what a balance would
cost without totals). Through the server, after the loop: the server's CPU per request (all
its processes, from `/proc`), `--requests` balances of each size back to back, then as many
`/health`, the median of three such passes (`--no-cpu` skips it).

    .venv/bin/python bench/ledger_balance.py                    # SQLite, temp file
    .venv/bin/python bench/ledger_balance.py --postgres --json  # throwaway PostgreSQL
    .venv/bin/python bench/ledger_balance.py --database-url postgresql://… --sizes 10000
    .venv/bin/python bench/ledger_balance.py --postgres --json --in-process     # TestClient

`--json` prints one JSON object on the last line: `{"engine", "sizes": [{"ledger_entries",
"p50_ms", "p99_ms", "floor_p50_ms", "floor_p99_ms", "sum_ms"[, "server_cpu_ms",
"floor_server_cpu_ms"]}], "p99_ratio", "client"}` (p99 at the largest size ÷ p99 at the
smallest; `client` is "http" or "in-process"; the CPU keys only through the server).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import make_engine, session_factory, unit_of_work
from app.main import create_app
from app.migrations import upgrade
from app.settings import Settings
from bench.ledger_support import (
    add_database_arguments,
    create_contract,
    create_customer,
    create_plan,
    database,
    finance_token,
    percentile,
)
from bench.support import hourglass_serve, keep_alive_connection, process_tree_cpu_seconds
from ledger.hours.models import (
    Allotment,
    ClosedPeriod,
    LedgerEntry,
    PeriodOverage,
    WorkEntry,
)
from ledger.periods import add_months

ZONE = "Europe/Berlin"
INCLUDED = 20 * 60
ENTRY_MINUTES = (15, 30, 45, 60, 90, 120)
CHUNK = 20_000

allotments_table = Allotment.__table__  # type: ignore[attr-defined]
work_table = WorkEntry.__table__  # type: ignore[attr-defined]
ledger_table = LedgerEntry.__table__  # type: ignore[attr-defined]
overages_table = PeriodOverage.__table__  # type: ignore[attr-defined]
closed_table = ClosedPeriod.__table__  # type: ignore[attr-defined]


@dataclass
class Filled:
    contract_id: int
    ledger_entries: int
    work_entries: int
    seconds: float


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, clock_time(0), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def next_id(connection: sa.Connection, table: sa.Table) -> int:
    return int(connection.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))) or 0) + 1


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """executemany on SQLite; COPY on PostgreSQL (several times faster than batched INSERTs),
    on the same connection and in the same transaction."""
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    raw = connection.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[column] for column in columns])


def fill(engine: Engine, *, ledger_entries: int, months: int) -> Filled:
    """One contract whose ledger holds `ledger_entries` rows over `months` periods."""
    started = time.perf_counter()
    today = datetime.now(ZoneInfo(ZONE)).date()
    last_month = today.replace(day=1)
    first_month = add_months(last_month, -(months - 1))
    with unit_of_work(session_factory(engine)) as session:
        plan = create_plan(session, included_hours="20", billing_increment_minutes=15)
        customer = create_customer(session, timezone=ZONE)
        contract = create_contract(
            session, plan=plan, customer=customer, start_date=first_month, committed_months=12
        )
        assert contract.id is not None
        contract_id = contract.id

    now = datetime.now(UTC)
    written_ledger = written_work = 0
    work_buffer: list[dict[str, Any]] = []
    ledger_buffer: list[dict[str, Any]] = []

    def flush(connection: sa.Connection) -> None:
        # Work first: ledger rows point at their work entries.
        for table, buffer in ((work_table, work_buffer), (ledger_table, ledger_buffer)):
            if buffer:
                insert_rows(connection, table, buffer)
                buffer.clear()

    with engine.begin() as connection:
        work_id = next_id(connection, work_table)
        ledger_id = next_id(connection, ledger_table)
        for index in range(months):
            month = add_months(first_month, index)
            month_end = add_months(month, 1)
            is_over = index < months - 1
            # What is left, shared by the months left (a month with no expiry row leaves one).
            budget = max(3, (ledger_entries - written_ledger) // (months - index))
            rows_for_month: list[dict[str, Any]] = []
            work_rows: list[dict[str, Any]] = []
            remaining, overage = INCLUDED, 0
            rows_for_month.append(
                {"id": ledger_id, "kind": "grant", "minutes": INCLUDED, "reason": "period_start"}
            )
            ledger_id += 1
            days = (month_end - month).days
            last_day = days if is_over else max(1, min(days, today.day))
            reserve = 1 if is_over else 0  # the expiry row
            n = 0
            while len(rows_for_month) + reserve < budget:
                minutes = ENTRY_MINUTES[(index * 7 + n) % len(ENTRY_MINUTES)]
                worked_on = month + timedelta(days=n % last_day)
                n += 1
                work_rows.append(
                    {
                        "id": work_id,
                        "contract_id": contract_id,
                        "kind": "work",
                        "worked_on": worked_on,
                        "period_start": month,
                        "started_at": None,
                        "minutes": minutes,
                        "level": 1 + n % 4,
                        "ticket_ref": f"BENCH-{index}-{n}",
                        "description": "",
                        "multiplier": "1",
                        "billable_minutes": minutes,
                        "late": False,
                        "approved_overage": False,
                        "reverses_id": None,
                        "invoice_id": None,
                        "created_at": now,
                    }
                )
                take = min(minutes, remaining)
                if take:
                    rows_for_month.append(
                        {"id": ledger_id, "kind": "use", "minutes": take, "work_entry_id": work_id}
                    )
                    ledger_id += 1
                    remaining -= take
                if minutes - take:
                    rows_for_month.append(
                        {
                            "id": ledger_id,
                            "kind": "overage",
                            "minutes": minutes - take,
                            "work_entry_id": work_id,
                        }
                    )
                    ledger_id += 1
                    overage += minutes - take
                work_id += 1
            expired = remaining if is_over else 0
            if expired:
                rows_for_month.append(
                    {"id": ledger_id, "kind": "expire", "minutes": expired, "reason": "period_end"}
                )
                ledger_id += 1
            touching = [r["id"] for r in rows_for_month if r["kind"] != "overage"]
            allotment_id = connection.execute(
                allotments_table.insert().returning(allotments_table.c.id),
                {
                    "contract_id": contract_id,
                    "period_start": month,
                    "period_end": month_end,
                    "valid_from": month,
                    "valid_until": month_end,
                    "expires_at": local_midnight(month_end),
                    "pool_first_month": None,
                    "granted_minutes": INCLUDED,
                    "used_minutes": INCLUDED - remaining,
                    "expired_minutes": expired,
                    "remaining_minutes": remaining - expired,
                    "closed": is_over,
                    "last_entry_id": touching[-1],
                    "created_at": now,
                },
            ).scalar_one()
            connection.execute(
                overages_table.insert(),
                {
                    "contract_id": contract_id,
                    "period_start": month,
                    "overage_minutes": overage,
                    "on_demand_minutes": 0,
                    "late_minutes": 0,
                },
            )
            if is_over:
                connection.execute(
                    closed_table.insert(),
                    {
                        "contract_id": contract_id,
                        "period_start": month,
                        "period_end": month_end,
                        "closed_at": local_midnight(month_end),
                    },
                )
            for row in rows_for_month:
                is_overage = row["kind"] == "overage"
                ledger_buffer.append(
                    {
                        "contract_id": contract_id,
                        "period_start": month,
                        "allotment_id": None if is_overage else allotment_id,
                        "work_entry_id": None,
                        "rate": "overage" if is_overage else None,
                        "reason": "work",
                        "created_at": now,
                        **row,
                    }
                )
            work_buffer.extend(work_rows)
            written_ledger += len(rows_for_month)
            written_work += len(work_rows)
            if len(ledger_buffer) >= CHUNK:
                flush(connection)
        flush(connection)
        if engine.dialect.name == "postgresql":
            for table in ("work_entries", "ledger_entries"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return Filled(contract_id, written_ledger, written_work, time.perf_counter() - started)


@dataclass
class Latency:
    p50: float
    p99: float
    mean: float
    floor_p50: float
    floor_p99: float


def settle(engine: Engine) -> None:
    """Let the database and this process come to rest after a fill, before anything is timed:
    on PostgreSQL a VACUUM (the fill's million inserts would otherwise wake autovacuum in the
    middle of a measurement, on the same two cores) and a checkpoint; here, a full collection."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
            connection.exec_driver_sql("CHECKPOINT")
    gc.collect()


Get = Callable[[str, dict[str, str]], tuple[int, str]]


@contextmanager
def in_process_client(engine: Engine, url: str) -> Iterator[tuple[Get, int | None]]:
    """The real app in this process through FastAPI's TestClient (anyio portal thread + httpx
    transport: ~2-3 ms a request that no client of the service pays); no server process."""
    app = create_app(Settings(database_url=url), engine=engine)
    with TestClient(app) as client:

        def get(path: str, headers: dict[str, str]) -> tuple[int, str]:
            response = client.get(path, headers=headers)
            return response.status_code, response.text

        yield get, None


@contextmanager
def http_client(url: str, *, workers: int) -> Iterator[tuple[Get, int | None]]:
    """`hourglass serve --workers N` on the filled database, read through one keep-alive
    `http.client` connection (TCP_NODELAY): what a client of the service sees."""
    with hourglass_serve(url, workers=workers) as (port, server):
        connection = keep_alive_connection(port)
        try:

            def get(path: str, headers: dict[str, str]) -> tuple[int, str]:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                return response.status, response.read().decode()

            yield get, server.pid
        finally:
            connection.close()


def measure_balances(
    get: Get, token: str, contract_ids: list[int], *, requests: int
) -> list[Latency]:
    """Each contract's balance latency, and the floor (`GET /health`), measured in one loop:
    every round reads each contract's balance once and the floor once, in a shuffled order,
    so a burst of load on this shared machine falls on every size alike and the ratio of two
    sizes' p99 compares the same moments. (Measured one size after the other, as before, the
    ratio swung between 0.63 and 1.36 from run to run with the load.)"""
    headers = {"Authorization": f"Bearer {token}"}
    paths = [f"/v1/contracts/{contract_id}/balance" for contract_id in contract_ids]
    samples: list[list[float]] = [[] for _ in paths]
    floor: list[float] = []
    order = random.Random(12)
    for _ in range(max(10, requests // 10)):  # warm-up: plans, pools, caches
        for path in paths:
            assert get(path, headers)[0] == 200
    for _ in range(requests):
        steps = list(range(len(paths) + 1))
        order.shuffle(steps)
        for step in steps:
            started = time.perf_counter()
            if step == len(paths):
                assert get("/health", {})[0] == 200
                floor.append((time.perf_counter() - started) * 1000)
                continue
            status, text = get(paths[step], headers)
            samples[step].append((time.perf_counter() - started) * 1000)
            assert status == 200, text
    return [
        Latency(
            p50=percentile(taken, 0.50),
            p99=percentile(taken, 0.99),
            mean=statistics.fmean(taken),
            floor_p50=percentile(floor, 0.50),
            floor_p99=percentile(floor, 0.99),
        )
        for taken in samples
    ]


CPU_PASSES = 3


def server_cpu_per_request(
    get: Get, pid: int, token: str, contract_ids: list[int], *, requests: int
) -> tuple[list[float], float]:
    """The server's CPU ms per request (all its processes and threads, from `/proc`), after
    the latency loop: `requests` balance reads of one contract back to back with the CPU read
    before and after, for each contract and then as many `GET /health` (the framework's
    share); `CPU_PASSES` passes over them in turn, the median pass per path (one pass alone
    swung by a third on SQLite under load). The server's idle background threads (billing
    worker, notifications: 3-7 ms CPU a second, measured) are in every figure alike; the clock
    tick (10 ms) over `requests` reads bounds the resolution."""
    headers = {"Authorization": f"Bearer {token}"}
    targets = [(f"/v1/contracts/{i}/balance", headers) for i in contract_ids]
    targets.append(("/health", {}))
    passes: list[list[float]] = [[] for _ in targets]
    for _ in range(CPU_PASSES):
        for (path, with_headers), taken in zip(targets, passes, strict=True):
            before = process_tree_cpu_seconds(pid)
            for _ in range(requests):
                assert get(path, with_headers)[0] == 200
            taken.append((process_tree_cpu_seconds(pid) - before) * 1000 / requests)
    medians = [statistics.median(taken) for taken in passes]
    return medians[:-1], medians[-1]


def time_sum_over_ledger(engine: Engine, contract_id: int) -> float:
    """What a balance computed from the rows would at least cost: one aggregate."""
    query = sa.select(ledger_table.c.kind, sa.func.sum(ledger_table.c.minutes)).where(
        ledger_table.c.contract_id == contract_id
    )
    query = query.group_by(ledger_table.c.kind)
    samples = []
    with engine.connect() as connection:
        for _ in range(5):
            started = time.perf_counter()
            connection.execute(query).all()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def audit(engine: Engine, contract_id: int) -> float:
    """Every allotment's running totals equal the sums of its ledger rows, and each period's
    overage total the sum of its overage rows: the data measured is a consistent ledger."""
    started = time.perf_counter()
    sums = (
        sa.select(
            ledger_table.c.allotment_id,
            ledger_table.c.kind,
            sa.func.sum(ledger_table.c.minutes),
        )
        .where(ledger_table.c.contract_id == contract_id)
        .group_by(ledger_table.c.allotment_id, ledger_table.c.kind)
    )
    with Session(engine) as session:
        by_allotment: dict[Any, dict[str, int]] = {}
        for allotment_id, kind, minutes in session.execute(sums):
            by_allotment.setdefault(allotment_id, {})[kind] = int(minutes)
        overage = by_allotment.pop(None, {}).get("overage", 0)
        for row in session.execute(
            sa.select(allotments_table).where(allotments_table.c.contract_id == contract_id)
        ).mappings():
            kinds = by_allotment.get(row["id"], {})
            assert row["granted_minutes"] == kinds.get("grant", 0), row
            assert row["used_minutes"] == kinds.get("use", 0), row
            assert row["expired_minutes"] == kinds.get("expire", 0), row
            assert row["remaining_minutes"] == (
                row["granted_minutes"] - row["used_minutes"] - row["expired_minutes"]
            ), row
        total = session.scalar(
            sa.select(sa.func.sum(overages_table.c.overage_minutes)).where(
                overages_table.c.contract_id == contract_id
            )
        )
        assert int(total or 0) == overage, (total, overage)
        session.rollback()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    parser.add_argument("--sizes", default="10000,1000000", help="ledger entries per contract")
    parser.add_argument("--months", type=int, default=120, help="periods the entries span")
    parser.add_argument("--requests", type=int, default=200, help="balance reads per size")
    parser.add_argument("--no-audit", action="store_true", help="skip the consistency audit")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="read through FastAPI's TestClient in this process (the first way; ~2-3 ms more a "
        "request) instead of `hourglass serve` over loopback HTTP",
    )
    parser.add_argument("--workers", type=int, default=1, help="`hourglass serve` processes")
    parser.add_argument(
        "--no-cpu", action="store_true", help="skip the server CPU per request (HTTP only)"
    )
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]

    results: list[dict[str, Any]] = []
    with database(args) as url:
        engine = make_engine(url)
        upgrade(engine)
        via = "in-process TestClient" if args.in_process else f"serve --workers {args.workers}"
        print(
            f"engine: {engine.dialect.name}   months: {args.months}   requests: {args.requests}"
            f"   client: {via}"
        )
        print(
            f"{'ledger entries':>15} {'work entries':>13} {'fill s':>8} {'audit s':>8}"
            f" {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'SUM(ledger) ms':>15}"
        )
        filled_sizes = []
        for size in sizes:
            filled = fill(engine, ledger_entries=size, months=args.months)
            audited = float("nan") if args.no_audit else audit(engine, filled.contract_id)
            filled_sizes.append((filled, audited))
        settle(engine)
        with unit_of_work(session_factory(engine)) as session:
            token = finance_token(session)
        contract_ids = [filled.contract_id for filled, _ in filled_sizes]
        client = (
            in_process_client(engine, url)
            if args.in_process
            else http_client(url, workers=args.workers)
        )
        cpu: tuple[list[float], float] | None = None
        with client as (get, server_pid):
            latencies = measure_balances(get, token, contract_ids, requests=args.requests)
            if server_pid is not None and not args.no_cpu:
                cpu = server_cpu_per_request(
                    get, server_pid, token, contract_ids, requests=args.requests
                )
        for index, ((filled, audited), latency) in enumerate(
            zip(filled_sizes, latencies, strict=True)
        ):
            summed = time_sum_over_ledger(engine, filled.contract_id)
            print(
                f"{filled.ledger_entries:>15,} {filled.work_entries:>13,} {filled.seconds:>8.1f}"
                f" {audited:>8.2f} {latency.p50:>8.2f} {latency.p99:>8.2f} {latency.mean:>8.2f}"
                f" {summed:>15.1f}   floor (GET /health) p50 {latency.floor_p50:.2f} ms,"
                f" p99 {latency.floor_p99:.2f} ms"
                + (
                    ""
                    if cpu is None
                    else f"; server CPU {cpu[0][index]:.2f} ms/request (GET /health {cpu[1]:.2f})"
                ),
                flush=True,
            )
            result: dict[str, Any] = {
                "ledger_entries": filled.ledger_entries,
                "p50_ms": round(latency.p50, 3),
                "p99_ms": round(latency.p99, 3),
                "floor_p50_ms": round(latency.floor_p50, 3),
                "floor_p99_ms": round(latency.floor_p99, 3),
                "sum_ms": round(summed, 3),
            }
            if cpu is not None:
                result["server_cpu_ms"] = round(cpu[0][index], 3)
                result["floor_server_cpu_ms"] = round(cpu[1], 3)
            results.append(result)
        name = engine.dialect.name
        engine.dispose()
    if args.json:
        ratio = results[-1]["p99_ms"] / results[0]["p99_ms"] if results else None
        client_name = "in-process" if args.in_process else "http"
        print(
            json.dumps(
                {"engine": name, "client": client_name, "sizes": results, "p99_ratio": ratio}
            )
        )


if __name__ == "__main__":
    main()
