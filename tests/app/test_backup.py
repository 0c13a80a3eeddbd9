"""`hourglass db backup PATH`: a consistent copy of SQLite taken while the service writes.

A writer thread keeps committing work entries (the WAL grows, checkpoints come and go) while
the real command copies the database; the restored copy passes SQLite's integrity check and an
app started on it serves exactly the invoices the original serves. On PostgreSQL the command
refuses and names pg_dump.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.auth.tokens import Role
from app.billing import make_biller
from app.db import make_engine, unit_of_work
from app.main import create_app
from app.settings import Settings
from invoices.runs import flows
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from ledger.periods import parse_month
from tests.factories import bearer
from tests.invoices.billing.helpers import hourglass, load_dataset, open_database


def _invoices(url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        client = TestClient(create_app(Settings(database_url=url), engine=engine))
        response = client.get("/v1/invoices", params={"limit": 100}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]
    finally:
        engine.dispose()


def test_backup_while_writing_restores_the_same_invoices(
    fresh_database: str, db_kind: str, tmp_path: Path
) -> None:
    if db_kind == "postgresql":
        result = hourglass(fresh_database, "db", "backup", str(tmp_path / "x.db"))
        assert result.returncode == 2
        assert "pg_dump" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "x.db").exists()
        return

    data = load_dataset(fresh_database, contracts=3, entries_per_contract=1)
    with open_database(fresh_database) as factory:
        run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
        flows.work_run(make_biller(Settings(database_url=fresh_database), factory), run_id)
        with unit_of_work(factory) as session:
            finance = bearer(session, Role.FINANCE)
    original = _invoices(fresh_database, finance)
    assert len(original) == 3

    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        with open_database(fresh_database) as factory:
            while not stop.is_set():
                with unit_of_work(factory) as session:
                    for contract_id in data.contract_ids:
                        post_work(
                            session,
                            contract_id,
                            WorkEntryCreate(
                                worked_on=date(2026, 2, 3),
                                minutes=15,
                                level=1,
                                ticket_ref=f"W-{len(written)}",
                                description="written during the backup",
                            ),
                        )
                written.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:  # the writer is well under way
            stop.wait(0.05)
        target = tmp_path / "backup.db"
        result = hourglass(fresh_database, "db", "backup", str(target))
        during = len(written)
    finally:
        stop.set()
        thread.join(60)
    assert result.returncode == 0, result.stderr
    assert len(written) > during or during >= 5

    refused = hourglass(fresh_database, "db", "backup", str(target))
    assert refused.returncode == 2 and "exists" in refused.stderr

    restored = tmp_path / "restored.db"
    shutil.copyfile(target, restored)
    assert not Path(f"{target}-wal").exists(), "the backup is one self-contained file"
    with sqlite3.connect(restored) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        entries = conn.execute(
            "SELECT count(*) FROM work_entries WHERE description = 'written during the backup'"
        ).fetchone()[0]
    assert entries % len(data.contract_ids) == 0, "a transaction was copied in part"
    assert entries > 0
    assert _invoices(f"sqlite:///{restored}", finance) == original


def test_backup_of_a_missing_database_says_so(tmp_path: Path, db_kind: str) -> None:
    if db_kind != "sqlite":
        return
    result = hourglass(f"sqlite:///{tmp_path / 'none.db'}", "db", "backup", str(tmp_path / "b"))
    assert result.returncode == 2 and "no database at" in result.stderr
    assert not (tmp_path / "none.db").exists()
