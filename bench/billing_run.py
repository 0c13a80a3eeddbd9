"""How fast a month-end billing run is, beside what the same data costs the database.

N contracts (default 10,000), each with a month of work (a few work entries), are billed for
2026-01: on SQLite in-process (the path `hourglass billing run` takes), and on PostgreSQL by
W `hourglass billing worker --exit-when-idle` processes sharing the run (default 1 and 2).

Each run reports, in the same run on the same data:
- `floor_s`: a set-based `INSERT … SELECT … GROUP BY` writing one row per contract with its
  billable minutes and a fee + overage amount, into a scratch table: what the data costs;
- `issue_s`: start of the run until every contract's job is done (every invoice committed);
- `documents_s`: from there until the run is `completed` (every invoice has its documents);
- `wall_s`; `one_invoice_each`, `gapless` (numbers 1..N) checked; `peak_rss_mb`: the largest
  peak RSS (VmHWM) of a worker process, and of one of its rendering processes;
- with `--dry-run`, `dry_run_s`: `POST /v1/billing-runs` with `"dry_run": true` to
  `hourglass serve` on the same data, before the run (a preview of every contract checked);
  null without it.

Loading: a handful of template contracts are created through the services (so their ledger
rows, allotment totals and overage totals obey the real rules), then cloned in bulk with
SQLAlchemy core inserts and fresh ids; the load time is printed apart from the run.

    .venv/bin/python bench/billing_run.py [--contracts 10000] [--entries 3] [--workers 1,2]
        [--no-sqlite] [--no-postgres] [--no-documents] [--dry-run] [--cold-workers] [--json]

PostgreSQL workers are standing (started and connected before the run starts, as in
production); `--cold-workers` starts them with the run, so their start-up counts; SQLite's one
worker always starts with the run.
`--no-documents` leaves rendering out (issuing only: the workers render in-process, and only
when no chunk waits, and are stopped once every invoice is issued).
`--json` prints, as the last line, `{"runs": [{"engine", "workers", "contracts", "floor_s",
"issue_s", "documents_s", "wall_s", "one_invoice_each", "gapless", "peak_rss_mb",
"dry_run_s"}, …]}`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import sqlalchemy as sa

from app.auth.tokens import Role, create_token
from app.db import make_engine, session_factory, unit_of_work
from app.migrations import upgrade
from bench.support import (
    create_contract,
    create_customer,
    create_plan,
    free_port,
    throwaway_postgres,
    wait_for_health,
)
from invoices.runs import flows
from invoices.runs.chunks import DEFAULT_CHUNK
from ledger.contracts.models import Contract
from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage, WorkEntry
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from ledger.periods import parse_month

PERIOD = "2026-01"
HOURGLASS = Path(sys.executable).parent / "hourglass"
CHUNK = 5000
COPIES_PER_INSERT = 2000  # contracts cloned between two flushes of the rows
CLONED_TABLES = ("contracts", "work_entries", "allotments", "ledger_entries", "period_overages")


# --- loading ------------------------------------------------------------------------------------


def _templates(session: Any, entries: int) -> list[int]:
    """Eight contracts through the services: EUR and JPY plans, with and without annual
    term, taxed and reverse-charge customers, one starting mid-month, work under and over
    the allotment."""
    eur = create_plan(session, code="bench-eur")
    jpy = create_plan(
        session,
        code="bench-jpy",
        currency="JPY",
        fee="50000",
        overage_rate="12000",
        included_hours="10",
    )
    customers = [
        create_customer(session, name="Plain GmbH"),
        create_customer(session, name="Taxed GmbH", tax_rate_percent="19"),
        create_customer(
            session,
            name="Reverse SARL",
            tax_rate_percent="19",
            reverse_charge=True,
            vat_id="FR40303265045",
        ),
    ]
    ids = []
    for index in range(8):
        contract = create_contract(
            session,
            customer=customers[index % 3],
            plan=jpy if index % 4 == 3 else eur,
            committed_months=12 if index % 2 else 0,
            start_date=date(2026, 1, 11) if index == 5 else date(2026, 1, 1),
        )
        assert contract.id is not None
        for entry in range(entries):
            post_work(
                session,
                contract.id,
                WorkEntryCreate(
                    worked_on=date(2026, 1, 12 + entry % 15),
                    minutes=60 * (2 + (index + entry) % 7) + 10 * (index % 3),
                    level=1 + (index + entry) % 4,
                    ticket_ref=f"BENCH-{index}-{entry}",
                    description=f"bench work {entry}",
                ),
            )
        ids.append(contract.id)
    return ids


def _rows(conn: sa.Connection, table: sa.Table, column: str, ids: list[int]) -> list[dict]:
    query = sa.select(table).where(table.c[column].in_(ids)).order_by(table.c.id)
    return [dict(row) for row in conn.execute(query).mappings()]


def _max_id(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one())


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(table), rows[start : start + CHUNK])


def clone(engine: sa.Engine, template_ids: list[int], copies: int) -> None:
    """`copies` new contracts, each a copy of a template with every id remapped."""
    tables = {
        "contracts": Contract.__table__,  # type: ignore[attr-defined]
        "work_entries": WorkEntry.__table__,  # type: ignore[attr-defined]
        "allotments": Allotment.__table__,  # type: ignore[attr-defined]
        "ledger_entries": LedgerEntry.__table__,  # type: ignore[attr-defined]
        "period_overages": PeriodOverage.__table__,  # type: ignore[attr-defined]
    }
    with engine.begin() as conn:
        source = {
            name: _rows(conn, table, "id" if name == "contracts" else "contract_id", template_ids)
            for name, table in tables.items()
        }
        next_id = {name: _max_id(conn, table) + 1 for name, table in tables.items()}
        out: dict[str, list[dict]] = {name: [] for name in tables}
        by_contract: dict[str, dict[int, list[dict]]] = {
            name: {} for name in tables if name != "contracts"
        }
        for name, rows in source.items():
            if name != "contracts":
                for row in rows:
                    by_contract[name].setdefault(row["contract_id"], []).append(row)
        templates = {row["id"]: row for row in source["contracts"]}
        for copy in range(copies):
            template = template_ids[copy % len(template_ids)]
            contract_id = next_id["contracts"]
            next_id["contracts"] += 1
            out["contracts"].append({**templates[template], "id": contract_id})
            remap: dict[str, dict[int, int]] = {}
            for name in ("work_entries", "allotments", "ledger_entries", "period_overages"):
                ids = remap.setdefault(name, {})
                for row in by_contract[name].get(template, []):
                    ids[row["id"]] = next_id[name]
                    next_id[name] += 1
            for name in ("work_entries", "allotments", "ledger_entries", "period_overages"):
                for row in by_contract[name].get(template, []):
                    new = {**row, "id": remap[name][row["id"]], "contract_id": contract_id}
                    if name == "work_entries" and row["reverses_id"] is not None:
                        new["reverses_id"] = remap["work_entries"][row["reverses_id"]]
                    if name == "allotments" and row["last_entry_id"] is not None:
                        new["last_entry_id"] = remap["ledger_entries"][row["last_entry_id"]]
                    if name == "ledger_entries":
                        if row["allotment_id"] is not None:
                            new["allotment_id"] = remap["allotments"][row["allotment_id"]]
                        if row["work_entry_id"] is not None:
                            new["work_entry_id"] = remap["work_entries"][row["work_entry_id"]]
                    out[name].append(new)
            if (copy + 1) % COPIES_PER_INSERT == 0 or copy + 1 == copies:
                # Written as it goes: memory stays flat however many copies are made.
                for name in CLONED_TABLES:
                    _insert(conn, tables[name], out[name])
                    out[name].clear()
        if engine.dialect.name == "postgresql":
            for name in CLONED_TABLES:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )


@dataclass
class Loaded:
    contracts: int
    work_entries: int
    ledger_rows: int
    services_seconds: float
    clone_seconds: float


def load(url: str, *, contracts: int, entries: int) -> Loaded:
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        upgrade(engine)
        started = time.perf_counter()
        with unit_of_work(session_factory(engine)) as session:
            template_ids = _templates(session, entries)
        services = time.perf_counter() - started
        started = time.perf_counter()
        clone(engine, template_ids, contracts - len(template_ids))
        cloned = time.perf_counter() - started
        with engine.connect() as conn:
            count = lambda table: int(  # noqa: E731
                conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            )
            return Loaded(
                contracts=count("contracts"),
                work_entries=count("work_entries"),
                ledger_rows=count("ledger_entries"),
                services_seconds=services,
                clone_seconds=cloned,
            )
    finally:
        engine.dispose()


# --- running ------------------------------------------------------------------------------------


def floor_seconds(url: str) -> float:
    """The set-based lower bound: one row per contract with its minutes and amount."""
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE bench_floor (contract_id BIGINT, minutes BIGINT, amount BIGINT)"
            )
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO bench_floor (contract_id, minutes, amount) "
                "SELECT c.id, coalesce(sum(w.billable_minutes), 0), max(p.fee_minor) + CASE "
                "WHEN coalesce(sum(w.billable_minutes), 0) > max(p.included_minutes) THEN "
                "(sum(w.billable_minutes) - max(p.included_minutes)) * max(p.overage_rate_minor) "
                "/ 60 ELSE 0 END "
                "FROM contracts c JOIN plans p ON p.id = c.plan_id "
                "LEFT JOIN work_entries w ON w.contract_id = c.id GROUP BY c.id"
            )
        seconds = time.perf_counter() - started
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE bench_floor")
        return seconds
    finally:
        engine.dispose()


def check(url: str, contracts: int) -> tuple[bool, bool]:
    """(one invoice per contract, numbers 1..N without a gap or a duplicate)."""
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT number, contract_id FROM invoices")).all()
            documents = conn.execute(
                sa.text("SELECT count(DISTINCT invoice_id) FROM invoice_documents")
            ).scalar_one()
    finally:
        engine.dispose()
    one_each = len(rows) == contracts and len({contract for _, contract in rows}) == contracts
    values = sorted(int(number.rsplit("-", 1)[1]) for number, _ in rows)
    print(f"  checked: {len(rows)} invoices, {documents} with documents", file=sys.stderr)
    return one_each, values == list(range(1, contracts + 1))


def _peak_rss_mb(pids: list[int]) -> float:
    """The largest VmHWM (peak resident set) among the processes and their children."""
    peak = 0
    for pid in pids:
        for target in [pid, *_children(pid)]:
            try:
                for line in Path(f"/proc/{target}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                continue
    return peak / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _jobs(conn: sa.Connection, run_id: int) -> tuple[int, str]:
    # EXISTS, not count(*): polled every 50 ms, a count over 100k pending jobs would itself
    # take a good share of a core away from the run it measures.
    pending = conn.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM billing_jobs "
            "WHERE run_id = :id AND status IN ('pending', 'running'))"
        ),
        {"id": run_id},
    ).scalar_one()
    status = conn.execute(
        sa.text("SELECT status FROM billing_runs WHERE id = :id"), {"id": run_id}
    ).scalar_one()
    return int(pending), str(status)


@dataclass
class Run:
    engine: str
    workers: int
    contracts: int
    floor_s: float
    issue_s: float
    documents_s: float
    wall_s: float
    one_invoice_each: bool
    gapless: bool
    peak_rss_mb: float
    dry_run_s: float | None = None

    def report(self) -> str:
        n = self.contracts
        dry = "" if self.dry_run_s is None else f"dry run through the API {self.dry_run_s:.1f} s; "
        return dry + (
            f"{self.engine} × {self.workers}: {n} contracts; issuing {self.issue_s:.1f} s = "
            f"{n / self.issue_s:.0f}/s, {self.issue_s / self.floor_s:.0f}× the floor "
            f"({self.floor_s:.2f} s); documents {self.documents_s:.1f} s; wall "
            f"{self.wall_s:.1f} s = {n / self.wall_s:.0f}/s; one invoice each "
            f"{self.one_invoice_each}, gapless {self.gapless}, peak RSS {self.peak_rss_mb:.0f} MB"
        )


def dry_run_seconds(url: str, contracts: int, *, chunk: int) -> float:
    """A dry run through the API: `hourglass serve` on the data, one finance request."""
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        with unit_of_work(session_factory(engine)) as session:
            _, token = create_token(session, role=Role.FINANCE, name="bench")
    finally:
        engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOURGLASS_")}
    env["HOURGLASS_DATABASE_URL"] = url
    env["HOURGLASS_BILLING_CHUNK_SIZE"] = str(chunk)
    server = subprocess.Popen(
        [str(HOURGLASS), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        started = time.perf_counter()
        response = httpx.post(
            f"{base}/v1/billing-runs",
            json={"period": PERIOD, "dry_run": True},
            headers={"Authorization": f"Bearer {token}"},
            timeout=3600,
        )
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert not body["failures"], body["failures"][:3]
    assert len({p["contract_id"] for p in body["previews"]}) == contracts, len(body["previews"])
    return elapsed


def _wait_until_connected(
    engine: sa.Engine, workers: int, processes: list[subprocess.Popen[str]]
) -> None:
    """Until every standing worker has polled once (and so holds a pooled connection)."""
    deadline = time.monotonic() + 120
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() >= workers:
                return
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a standing worker exited before the run started")
        time.sleep(0.05)
    raise RuntimeError("the standing workers did not connect within 120 s")


def run_workers(
    url: str,
    contracts: int,
    workers: int,
    *,
    engine_name: str,
    documents: bool,
    chunk: int,
    dry_run: bool = False,
    cold: bool = False,
) -> Run:
    """W worker processes on a run started here (W = 0: this process, `work_run`)."""
    floor = floor_seconds(url)
    dry_run_s = dry_run_seconds(url, contracts, chunk=chunk) if dry_run else None
    engine = make_engine(url, poolclass=sa.NullPool)
    factory = session_factory(engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOURGLASS_")}
    env["HOURGLASS_DATABASE_URL"] = url
    env["HOURGLASS_BILLING_CHUNK_SIZE"] = str(chunk)
    if not documents:
        # One rendering process renders in the worker itself, and only when no chunk waits
        # (`worker.tick`): issuing alone is timed, the workers are stopped when it is done.
        env["HOURGLASS_DOCUMENT_PROCESSES"] = "1"
    processes: list[subprocess.Popen[str]] = []
    peak = 0.0
    try:
        # The workers stand ready before the run starts, as `hourglass serve`'s background
        # worker and standing `hourglass billing worker`s do in production: their start-up
        # (imports, ~1-2 s) is not the run's. Their first idle poll after the start (<= 1 s)
        # is. `--cold-workers` starts them with the run instead (and they exit when idle).
        command = [str(HOURGLASS), "billing", "worker"] + (["--exit-when-idle"] if cold else [])

        def spawn() -> None:
            processes.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,  # the worker and its renderers, stopped together
                )
            )

        if not cold:
            for _ in range(workers):
                spawn()
            _wait_until_connected(engine, workers, processes)
        started = time.perf_counter()
        run_id = flows.start_run(factory, parse_month(PERIOD), now=datetime.now(UTC))
        if cold:
            for _ in range(workers):
                spawn()
        issued_at = None
        while True:
            with engine.connect() as conn:
                pending, status = _jobs(conn, run_id)
            now = time.perf_counter()
            if pending == 0 and issued_at is None:
                issued_at = now
            peak = max(peak, _peak_rss_mb([p.pid for p in processes]))
            if status != "running" or (not documents and issued_at is not None):
                break
            if processes and all(p.poll() is not None for p in processes) and status == "running":
                # Workers exit when idle; the last one completes the run before exiting.
                with engine.connect() as conn:
                    pending, status = _jobs(conn, run_id)
                if status == "running":
                    errors = [p.stderr.read() if p.stderr else "" for p in processes]
                    raise RuntimeError(f"workers exited, run still running: {errors}")
                break
            time.sleep(0.05)
        finished = time.perf_counter()
        for process in processes:
            if not documents or not cold:
                os.killpg(process.pid, signal.SIGTERM)
            _, err = process.communicate()
            assert process.returncode in (0, -15), err
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        engine.dispose()
    assert issued_at is not None
    one_each, gapless = check(url, contracts)
    return Run(
        engine=engine_name,
        workers=workers,
        contracts=contracts,
        floor_s=round(floor, 3),
        issue_s=round(issued_at - started, 2),
        documents_s=round(finished - issued_at, 2) if documents else 0.0,
        wall_s=round(finished - started, 2),
        one_invoice_each=one_each,
        gapless=gapless,
        peak_rss_mb=round(peak, 1),
        dry_run_s=None if dry_run_s is None else round(dry_run_s, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=3, help="work entries per contract")
    parser.add_argument("--workers", default="1,2", help="PostgreSQL worker counts, e.g. 1,2")
    parser.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help="contracts per chunk (the default's)"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-documents", action="store_true", help="issuing only")
    parser.add_argument(
        "--dry-run", action="store_true", help="also time a dry run through the API, per run"
    )
    parser.add_argument(
        "--cold-workers",
        action="store_true",
        help="PostgreSQL: start the workers with the run (their start-up counts) instead of"
        " before it",
    )
    parser.add_argument("--json", action="store_true", help="a JSON summary on the last line")
    args = parser.parse_args()
    documents = not args.no_documents
    worker_counts = [int(w) for w in args.workers.split(",") if w]
    print(f"billing run {PERIOD}: {args.contracts} contracts, {args.entries} work entries each")
    runs: list[Run] = []

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="hourglass-bench-") as scratch:
            url = f"sqlite:///{scratch}/bench.db"
            loaded = load(url, contracts=args.contracts, entries=args.entries)
            print(_loaded("sqlite", loaded))
            runs.append(
                run_workers(
                    url,
                    loaded.contracts,
                    1,
                    engine_name="sqlite",
                    documents=documents,
                    chunk=args.chunk,
                    dry_run=args.dry_run,
                    cold=True,  # one file: no standing worker to wait for
                )
            )
            print(runs[-1].report(), flush=True)

    if not args.no_postgres:
        with throwaway_postgres() as admin_url:
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql('CREATE DATABASE "bench_source"')
            base = sa.make_url(admin_url)
            source = base.set(database="bench_source").render_as_string(hide_password=False)
            loaded = load(source, contracts=args.contracts, entries=args.entries)
            print(_loaded("postgresql", loaded))
            for workers in worker_counts:
                name = f"bench_{workers}_workers"
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "bench_source"')
                url = base.set(database=name).render_as_string(hide_password=False)
                runs.append(
                    run_workers(
                        url,
                        loaded.contracts,
                        workers,
                        engine_name="postgresql",
                        documents=documents,
                        chunk=args.chunk,
                        dry_run=args.dry_run,
                        cold=args.cold_workers,
                    )
                )
                print(runs[-1].report(), flush=True)
            admin.dispose()
    print(f"load average: {os.getloadavg()}")
    if args.json:
        print(json.dumps({"runs": [asdict(run) for run in runs]}))


def _loaded(engine: str, loaded: Loaded) -> str:
    return (
        f"{engine} load: {loaded.contracts} contracts, {loaded.work_entries} work entries, "
        f"{loaded.ledger_rows} ledger rows: 8 templates through the services "
        f"{loaded.services_seconds:.1f} s, bulk clone {loaded.clone_seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
