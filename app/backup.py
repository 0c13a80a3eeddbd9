"""`hourglass db backup PATH`: a consistent copy of a SQLite database while the service runs.

Copying `hourglass.db` alone is not a backup: in WAL mode the latest commits live in
`hourglass.db-wal` until a checkpoint. SQLite's online backup API copies every page as of one
read transaction (writers go on meanwhile, WAL mode never blocks them), into a temporary file
that is renamed into place only when complete. The copy is a single self-contained file
(journal mode DELETE): restoring is copying it back while the service is stopped.

PostgreSQL is backed up with its own tools (`pg_dump`), see docs/deploy.md.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from app.db import normalise_url

PG_DUMP_HINT = (
    "PostgreSQL is backed up with pg_dump, e.g. "
    'pg_dump --format=custom --file=hourglass.dump "$HOURGLASS_DATABASE_URL" '
    "(restore: pg_restore --clean --if-exists --dbname=…); see docs/deploy.md"
)


class BackupError(Exception):
    """What went wrong, in one line for the operator."""


def backup_sqlite(database_url: str, target: Path, *, overwrite: bool = False) -> int:
    """Write a consistent copy of the SQLite database to `target`. Returns its size in bytes."""
    url = sa.make_url(normalise_url(database_url))
    if not url.drivername.startswith("sqlite"):
        raise BackupError(PG_DUMP_HINT)
    source = url.database
    if not source or source == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    if not Path(source).is_file():
        raise BackupError(f"no database at {source} (HOURGLASS_DATABASE_URL)")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists already (use --overwrite to replace it)")
    if target.resolve() == Path(source).resolve():
        raise BackupError("the backup must not be the database itself")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=60)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)
    return target.stat().st_size
