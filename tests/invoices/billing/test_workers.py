"""The run is the same whether one worker or several do it (PostgreSQL job queue).

Two databases are loaded identically. One is billed by a single in-process worker; on the
other, the run is started and three `hourglass billing worker --exit-when-idle` processes
share it through `FOR UPDATE SKIP LOCKED`. The invoices must be the same: same contracts,
same lines and totals, and numbers that are a permutation of 1..N.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.billing import make_biller
from app.db import make_engine
from app.settings import Settings
from invoices.runs import flows
from invoices.runs.models import BillingJob, BillingRun
from ledger.periods import parse_month
from tests.conftest import DatabaseFactory
from tests.invoices.billing.helpers import (
    StoredInvoice,
    invoice_number,
    load_dataset,
    open_database,
    reader,
    start_hourglass,
    stored_invoices,
)

CONTRACTS = 24
WORKERS = 3
SMALL_CHUNKS = {"HOURGLASS_BILLING_CHUNK_SIZE": "4"}  # six chunks to share


@pytest.fixture
def second_database(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create()
    yield url
    database_factory.drop(url)


def _comparable(invoices: list[StoredInvoice]) -> dict[tuple[int, str], tuple[object, ...]]:
    """Everything but the number, the row id and the PDF (which prints the number)."""
    return {
        (i.contract_id, i.period): (
            i.currency,
            i.status,
            i.subtotal_minor,
            i.tax_minor,
            i.total_minor,
            i.lines,
        )
        for i in invoices
    }


def _numbers_are_a_permutation(invoices: list[StoredInvoice]) -> None:
    assert sorted(i.number for i in invoices) == [
        invoice_number(n) for n in range(1, len(invoices) + 1)
    ]


@pytest.mark.postgres_only
def test_three_workers_issue_what_one_worker_issues(
    fresh_database: str, second_database: str, db_kind: str
) -> None:
    one, three = fresh_database, second_database
    data = load_dataset(one, contracts=CONTRACTS)
    assert load_dataset(three, contracts=CONTRACTS) == data

    # (a) One worker, in this process.
    with open_database(one) as factory:
        run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
        summary = flows.work_run(make_biller(Settings(database_url=one), factory), run_id)
    assert (summary["status"], summary["invoices"]) == ("completed", CONTRACTS)

    # (b) Three worker processes sharing a run started here.
    with open_database(three) as factory:
        shared_run = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
    workers = [
        start_hourglass(three, "billing", "worker", "--exit-when-idle", env=SMALL_CHUNKS)
        for _ in range(WORKERS)
    ]
    try:
        for worker in workers:
            _, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    engine = reader(three)
    try:
        deadline = time.monotonic() + 60
        with engine.connect() as conn:
            while True:
                status = conn.execute(
                    sa.select(BillingRun.status).where(BillingRun.id == shared_run)  # type: ignore[arg-type]
                ).scalar_one()
                conn.rollback()
                if status != "running" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert status == "completed"
            jobs = conn.execute(
                sa.select(BillingJob.worker, BillingJob.attempts, BillingJob.status).where(
                    BillingJob.run_id == shared_run  # type: ignore[arg-type]
                )
            ).all()
    finally:
        engine.dispose()
    assert len(jobs) == CONTRACTS
    assert {(attempts, status) for _, attempts, status in jobs} == {(1, "done")}
    assert len({worker for worker, _, _ in jobs}) >= 2, "the run was not shared"

    alone, shared = stored_invoices(one), stored_invoices(three)
    assert len(alone) == len(shared) == CONTRACTS
    _numbers_are_a_permutation(alone)
    _numbers_are_a_permutation(shared)
    assert _comparable(shared) == _comparable(alone)
    assert {i.contract_id for i in shared} == set(data.contract_ids)
    assert all(i.pdf_digest == i.pdf_sha256 for i in shared)


@pytest.mark.postgres_only
def test_two_runs_of_one_period_started_at_once_never_bill_twice(
    fresh_database: str, db_kind: str
) -> None:
    """Two `billing run` processes started together may each create a run; working both at
    once still gives one invoice per contract and gapless numbers."""
    data = load_dataset(fresh_database, contracts=6, entries_per_contract=1)
    start = threading.Barrier(2)
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def billing_run() -> None:
        try:
            with open_database(fresh_database) as factory:
                start.wait()
                run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
                biller = make_biller(Settings(database_url=fresh_database), factory)
                results.append(flows.work_run(biller, run_id))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=billing_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert [r["status"] for r in results] == ["completed", "completed"]
    invoices = stored_invoices(fresh_database)
    assert sorted(i.contract_id for i in invoices) == sorted(data.contract_ids)
    _numbers_are_a_permutation(invoices)
    assert sum(int(r["invoices"]) for r in {r["id"]: r for r in results}.values()) == 6  # type: ignore[call-overload]


@pytest.mark.postgres_only
def test_the_server_drops_a_silent_workers_session_within_30_seconds(
    fresh_database: str, db_kind: str
) -> None:
    """A chunk is held by its worker's transaction; keepalives the server sends on every
    session of ours free it 10 + 3 × 5 = 25 s after the worker's machine went silent."""
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as conn:
            idle, interval, count = (
                int(conn.execute(sa.text(f"SHOW tcp_keepalives_{name}")).scalar_one())
                for name in ("idle", "interval", "count")
            )
    finally:
        engine.dispose()
    assert idle + interval * count <= 30
