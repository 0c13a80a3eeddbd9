"""How fast work is booked (issue "month-end engine at scale", hot paths of the API).

(a) `POST /v1/work-entries/batch`: batches of 1,000 entries over 100 contracts, through the
    real app in-process; entries/s of the median batch. Floor, same run and data shape: the
    same 1,000 work rows and 1,000 ledger rows bulk-inserted in one transaction (rolled back):
    what the rows alone cost the database.
(b) single `POST /v1/contracts/{id}/work-entries`: `--clients` clients, each on its own
    contract, against `hourglass serve --workers 2` over loopback HTTP; p50/p99 ms. Floor,
    same run: `GET /health` from the same clients at the same time. Each client is a process
    of its own with a keep-alive `http.client` connection (`--load processes`, the default);
    `--load httpx-threads` is the first generator (httpx threads in one process, whose GIL and
    client CPU inflate both figures).

    .venv/bin/python bench/ingest.py --postgres --json
    .venv/bin/python bench/ingest.py --database-url postgresql://… --batches 5
    .venv/bin/python bench/ingest.py --postgres --json --no-batch --posts 100   # (b) only

`--json` prints one JSON object on the last line: `{"engine", "batch": {"entries",
"entries_per_s", "floor_entries_per_s"}, "single": {"clients", "workers", "load", "posts",
"p50_ms", "p99_ms", "floor_p50_ms"}}`; a part left out (`--no-batch`, `--no-single`) is null.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

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
from ledger.hours.models import LedgerEntry, WorkEntry
from ledger.periods import add_months


def previous_month() -> date:
    return add_months(datetime.now(UTC).date().replace(day=1), -1)


def make_contracts(engine: Engine, count: int) -> tuple[list[int], str]:
    """`count` contracts on the SPEC `business` plan, open since the start of last month."""
    with unit_of_work(session_factory(engine)) as session:
        plan = create_plan(session)
        customer = create_customer(session)
        ids = [
            create_contract(session, plan=plan, customer=customer, start_date=previous_month()).id
            for _ in range(count)
        ]
        token = finance_token(session)
    return [i for i in ids if i is not None], token


def entry(index: int, minutes: int = 30) -> dict[str, Any]:
    return {
        "worked_on": (previous_month() + timedelta(days=index % 28)).isoformat(),
        "minutes": minutes,
        "level": 1 + index % 4,
        "ticket_ref": f"BENCH-{index}",
        "description": "bench",
    }


def bench_batch(engine: Engine, url: str, *, batches: int, size: int, contracts: int) -> dict:
    ids, token = make_contracts(engine, contracts)
    app = create_app(Settings(database_url=url), engine=engine)
    headers = {"Authorization": f"Bearer {token}"}
    seconds = []
    with TestClient(app) as client:
        warm = [entry(i) | {"contract_id": ids[i % len(ids)]} for i in range(len(ids))]
        assert client.post("/v1/work-entries/batch", json={"entries": warm}, headers=headers)
        for number in range(batches):
            body = {
                "entries": [
                    entry(number * size + i) | {"contract_id": ids[i % len(ids)]}
                    for i in range(size)
                ]
            }
            started = time.perf_counter()
            response = client.post("/v1/work-entries/batch", json=body, headers=headers)
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 201, response.text[:500]
    floor = [batch_floor(engine, ids, size=size) for _ in range(batches)]
    return {
        "entries": size,
        "contracts": contracts,
        "entries_per_s": round(size / statistics.median(seconds), 1),
        "floor_entries_per_s": round(size / statistics.median(floor), 1),
    }


def batch_floor(engine: Engine, ids: list[int], *, size: int) -> float:
    """The rows a batch writes, bulk-inserted and rolled back: the database's share."""
    work = WorkEntry.__table__  # type: ignore[attr-defined]
    ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with engine.connect() as connection:
        started = time.perf_counter()
        with connection.begin() as transaction:
            rows = [
                {
                    "contract_id": ids[i % len(ids)],
                    "kind": "work",
                    "worked_on": previous_month(),
                    "period_start": previous_month(),
                    "minutes": 30,
                    "level": 1,
                    "ticket_ref": f"FLOOR-{i}",
                    "description": "bench",
                    "multiplier": "1",
                    "billable_minutes": 30,
                    "late": False,
                    "approved_overage": False,
                    "created_at": now,
                }
                for i in range(size)
            ]
            work_ids = connection.execute(work.insert().returning(work.c.id), rows).scalars()
            connection.execute(
                ledger.insert(),
                [
                    {
                        "contract_id": ids[n % len(ids)],
                        "kind": "overage",
                        "minutes": 30,
                        "period_start": previous_month(),
                        "work_entry_id": work_id,
                        "rate": "overage",
                        "reason": "work",
                        "created_at": now,
                    }
                    for n, work_id in enumerate(work_ids)
                ],
            )
            elapsed = time.perf_counter() - started
            transaction.rollback()
    return elapsed


def bench_single(
    engine: Engine, url: str, *, clients: int, posts: int, workers: int, load: str
) -> dict:
    ids, token = make_contracts(engine, clients)
    with hourglass_serve(url, workers=workers) as (port, server):
        base = f"http://127.0.0.1:{port}"
        cpu_before = process_tree_cpu_seconds(server.pid)
        if load == "processes":
            posted, floor = _load_processes(port, token, ids, posts)
        else:
            posted, floor = _load_httpx_threads(base, token, ids, posts)
        server_cpu = process_tree_cpu_seconds(server.pid) - cpu_before
    return {
        "clients": clients,
        "workers": workers,
        "load": load,
        "posts": len(posted),
        "p50_ms": round(percentile(posted, 0.5), 2),
        "p99_ms": round(percentile(posted, 0.99), 2),
        "floor_p50_ms": round(percentile(floor, 0.5), 2),
        # the API processes' CPU per post and its /health (warm-up included): the 2 cores are
        # shared with PostgreSQL and the clients, so this bounds how fast a post can be
        "server_cpu_ms_per_post": round(server_cpu * 1000 / (len(posted) + WARM_UP * clients), 2),
    }


WARM_UP = 5  # posts per client not counted: connections, caches


def _load_httpx_threads(
    base: str, token: str, ids: list[int], posts: int
) -> tuple[list[float], list[float]]:
    """The first load generator: one thread per client, httpx, all in this process (its GIL and
    httpx's own CPU per request are in every figure, the floor's too)."""
    posted: list[float] = []
    floor: list[float] = []
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}

    def client(contract: int) -> None:
        mine, health = [], []
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for i in range(posts + WARM_UP):
                started = time.perf_counter()
                response = http.post(f"/v1/contracts/{contract}/work-entries", json=entry(i, 15))
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 201, response.text[:300]
                started = time.perf_counter()
                assert http.get("/health").status_code == 200
                if i >= WARM_UP:
                    mine.append(elapsed)
                    health.append((time.perf_counter() - started) * 1000)
        with lock:
            posted.extend(mine)
            floor.extend(health)

    threads = [threading.Thread(target=client, args=(contract,)) for contract in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return posted, floor


def _load_processes(
    port: int, token: str, ids: list[int], posts: int
) -> tuple[list[float], list[float]]:
    """One process per client, each a keep-alive `http.client` connection (no GIL shared
    between clients, a few µs of client CPU per request); they start together."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(ids))
    results = context.Queue()
    processes = [
        context.Process(target=_client_process, args=(port, token, contract, posts, start, results))
        for contract in ids
    ]
    for process in processes:
        process.start()
    posted: list[float] = []
    floor: list[float] = []
    for _ in processes:
        outcome = results.get(timeout=600)
        if isinstance(outcome, str):
            raise RuntimeError(outcome)
        posted.extend(outcome[0])
        floor.extend(outcome[1])
    for process in processes:
        process.join(timeout=30)
    return posted, floor


def _client_process(
    port: int, token: str, contract: int, posts: int, start: Any, results: Any
) -> None:
    try:
        connection = keep_alive_connection(port)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def call(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()

        path = f"/v1/contracts/{contract}/work-entries"
        bodies = [json.dumps(entry(i, 15)).encode() for i in range(posts + WARM_UP)]
        mine, health = [], []
        start.wait(timeout=120)
        for i, body in enumerate(bodies):
            started = time.perf_counter()
            status, text = call("POST", path, body)
            elapsed = (time.perf_counter() - started) * 1000
            assert status == 201, text[:300]
            started = time.perf_counter()
            status, text = call("GET", "/health")
            assert status == 200, text[:300]
            if i >= WARM_UP:
                mine.append(elapsed)
                health.append((time.perf_counter() - started) * 1000)
        connection.close()
        results.put((mine, health))
    except BaseException as exc:  # reported by the parent, which would otherwise wait
        results.put(f"client on contract {contract}: {exc!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_database_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--posts", type=int, default=50, help="single posts per client")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--load",
        choices=["processes", "httpx-threads"],
        default="processes",
        help="single posts' load generator: a process per client with http.client (default), "
        "or the first one, httpx threads in this process",
    )
    parser.add_argument("--no-batch", action="store_true", help="only the single posts")
    parser.add_argument("--no-single", action="store_true", help="only the batches")
    args = parser.parse_args()
    with database(args) as url:
        engine = make_engine(url)
        upgrade(engine)
        name = engine.dialect.name
        batch = single = None
        if not args.no_batch:
            batch = bench_batch(
                engine, url, batches=args.batches, size=args.batch_size, contracts=args.contracts
            )
            print(
                f"{name} batch of {batch['entries']} over {batch['contracts']} contracts: "
                f"{batch['entries_per_s']:,.0f} entries/s "
                f"(floor {batch['floor_entries_per_s']:,.0f})",
                flush=True,
            )
        if not args.no_single:
            single = bench_single(
                engine,
                url,
                clients=args.clients,
                posts=args.posts,
                workers=args.workers,
                load=args.load,
            )
            print(
                f"{name} single posts, {single['clients']} clients ({single['load']}), "
                f"{single['workers']} workers: p50 {single['p50_ms']} ms, "
                f"p99 {single['p99_ms']} ms (floor GET /health p50 {single['floor_p50_ms']} ms); "
                f"API CPU per post + /health {single['server_cpu_ms_per_post']} ms",
                flush=True,
            )
        engine.dispose()
    if args.json:
        print(json.dumps({"engine": name, "batch": batch, "single": single}))


if __name__ == "__main__":
    main()
