"""How many contracts per second a month-end billing run gets through.

N contracts (default 10,000), each with a month of work (a few work entries), are billed for
2026-01: on SQLite in-process (the path `hourglass billing run` takes), and on PostgreSQL with
1 and 2 `hourglass billing worker --exit-when-idle` processes sharing the run.

Loading: a handful of template contracts are created through the services (so their ledger
rows, allotment totals and overage totals obey the real rules), then cloned in bulk with
SQLAlchemy core inserts and fresh ids. Every clone is a copy of rows the services wrote, so
ledger totals stay consistent; the load time is reported apart from the run.

    .venv/bin/python bench/billing_run.py [--contracts 10000] [--entries 3]
        [--workers 1,2] [--sqlite-loop run|worker|both] [--no-sqlite] [--no-postgres]

On SQLite the report splits the wall time between `bill_period`, PDF rendering inside it, the
job bookkeeping and `run_summary` (which `work_run` recomputes after every job).

Every run is checked: one invoice per contract, numbers 1..N without a gap.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

import invoices.pdf
from app.billing import make_biller
from app.db import make_engine, session_factory, unit_of_work
from app.migrations import upgrade
from app.settings import Settings
from invoices.runs import flows
from invoices.runs.models import BillingRun
from ledger.contracts.models import Contract
from ledger.hours.models import Allotment, LedgerEntry, PeriodOverage, WorkEntry
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from ledger.periods import parse_month
from tests.factories import create_contract, create_customer, create_plan
from tests.support.postgres_server import throwaway_postgres

PERIOD = "2026-01"
HOURGLASS = Path(sys.executable).parent / "hourglass"
CHUNK = 5000
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
        for name in CLONED_TABLES:
            _insert(conn, tables[name], out[name])
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


@contextmanager
def timed(target: Any, name: str, totals: dict[str, float]) -> Iterator[None]:
    """Adds the time spent in `target.name` to totals[name] while active."""
    original: Callable[..., Any] = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started

    setattr(target, name, wrapper)
    try:
        yield
    finally:
        setattr(target, name, original)


@dataclass
class Result:
    label: str
    contracts: int
    seconds: float
    steady_seconds: float
    details: dict[str, float] = field(default_factory=dict)

    def report(self) -> str:
        rate = self.contracts / self.seconds
        steady = self.contracts / self.steady_seconds if self.steady_seconds else float("nan")
        text = (
            f"{self.label:<28} {self.contracts:>6} contracts in {self.seconds:8.1f} s wall"
            f" = {rate:6.1f} contracts/s  (first→last invoice: {steady:6.1f}/s)"
        )
        for name, seconds in self.details.items():
            text += f"\n{'':<30}{name}: {seconds:7.1f} s ({100 * seconds / self.seconds:4.1f} %)"
        return text


def check(url: str, contracts: int) -> float:
    """Every contract invoiced once, numbers 1..N; returns first→last issue seconds."""
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT number, contract_id FROM invoices")).all()
            spread = conn.execute(
                sa.select(
                    sa.func.min(sa.column("issued_at")), sa.func.max(sa.column("issued_at"))
                ).select_from(sa.table("invoices"))
            ).one()
    finally:
        engine.dispose()
    assert len(rows) == contracts, (len(rows), contracts)
    assert len({contract for _, contract in rows}) == contracts
    values = sorted(int(number.rsplit("-", 1)[1]) for number, _ in rows)
    assert values == list(range(1, contracts + 1)), "numbering has a gap or a duplicate"
    first, last = (datetime.fromisoformat(v) if isinstance(v, str) else v for v in spread)
    return (last - first).total_seconds()


def run_in_process(url: str, contracts: int, *, loop: str = "run") -> Result:
    """What `hourglass billing run` does (loop="run": `work_run`, which reports progress after
    every job), or `hourglass billing worker` in this process (loop="worker": `work_any`)."""
    engine = make_engine(url)
    factory = session_factory(engine)
    totals: dict[str, float] = {}
    try:
        started = time.perf_counter()
        with (
            timed(invoices.pdf, "render_pdf", totals),
            timed(flows, "bill_period", totals),
            timed(flows, "claim_job", totals),
            timed(flows, "_finish_job", totals),
            timed(flows, "finalize_if_done", totals),
            timed(flows, "run_summary", totals),
        ):
            run_id = flows.start_run(factory, parse_month(PERIOD), now=datetime.now(UTC))
            biller = make_biller(Settings(database_url=url), factory)
            if loop == "run":
                flows.work_run(biller, run_id)
            else:
                flows.work_any(biller, idle_exit=True)
        seconds = time.perf_counter() - started
        with factory() as session:
            status = session.scalar(sa.select(BillingRun.status).where(BillingRun.id == run_id))  # type: ignore[arg-type]
    finally:
        engine.dispose()
    assert status == "completed", status
    parts = {
        "bill_period (close, lines, number, PDF; no commit)": totals["bill_period"],
        "claim_job": totals["claim_job"],
        "_finish_job + finalize_if_done": totals["_finish_job"] + totals["finalize_if_done"],
        "progress summaries (run_summary after every job)": totals.get("run_summary", 0.0),
    }
    other = seconds - sum(parts.values())
    return Result(
        f"sqlite, in-process {'run' if loop == 'run' else 'worker loop'}",
        contracts,
        seconds,
        check(url, contracts),
        {
            **parts,
            "  PDF rendering (render_pdf, inside bill_period)": totals["render_pdf"],
            "the rest (contract lock, period lookup, commits)": other,
        },
    )


def run_workers(url: str, contracts: int, workers: int) -> Result:
    engine = make_engine(url)
    factory = session_factory(engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOURGLASS_")}
    env["HOURGLASS_DATABASE_URL"] = url
    try:
        started = time.perf_counter()
        run_id = flows.start_run(factory, parse_month(PERIOD), now=datetime.now(UTC))
        processes = [
            subprocess.Popen(
                [str(HOURGLASS), "billing", "worker", "--exit-when-idle"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(workers)
        ]
        for process in processes:
            _, err = process.communicate()
            assert process.returncode == 0, err
        while True:
            with factory() as session:
                status = session.execute(
                    sa.text("SELECT status FROM billing_runs WHERE id = :id"), {"id": run_id}
                ).scalar_one()
            if status != "running":
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    assert status == "completed", status
    label = f"postgresql, {workers} worker{'s' if workers > 1 else ''}"
    return Result(label, contracts, seconds, check(url, contracts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=3, help="work entries per contract")
    parser.add_argument("--workers", default="1,2", help="PostgreSQL worker counts, e.g. 1,2")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--sqlite-loop",
        choices=["run", "worker", "both"],
        default="run",
        help="run: `hourglass billing run` (work_run); worker: the worker loop (work_any)",
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",") if w]
    print(f"billing run {PERIOD}: {args.contracts} contracts, {args.entries} work entries each")

    if not args.no_sqlite:
        loops = ["run", "worker"] if args.sqlite_loop == "both" else [args.sqlite_loop]
        for loop in loops:
            with tempfile.TemporaryDirectory(prefix="hourglass-bench-") as scratch:
                url = f"sqlite:///{scratch}/bench.db"
                loaded = load(url, contracts=args.contracts, entries=args.entries)
                print(_loaded("sqlite", loaded))
                print(run_in_process(url, loaded.contracts, loop=loop).report(), flush=True)

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
                print(run_workers(url, loaded.contracts, workers).report(), flush=True)
            admin.dispose()


def _loaded(engine: str, loaded: Loaded) -> str:
    return (
        f"{engine} load: {loaded.contracts} contracts, {loaded.work_entries} work entries, "
        f"{loaded.ledger_rows} ledger rows: 8 templates through the services "
        f"{loaded.services_seconds:.1f} s, bulk clone {loaded.clone_seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
