"""Doing the same writes twice on PostgreSQL and comparing what each stored, byte for byte.

`twice(connection, write)` runs `write(session)` in a session of its own inside a savepoint,
reads back every table as the server's text of each row (`SELECT t::text`: every column as
stored), rolls the savepoint back and sets every sequence back where it was (sequences are not
transactional), so a second call draws the same ids. Two calls that wrote the same rows return
equal snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

Snapshot = dict[str, list[str]]


def sequences(connection: sa.Connection) -> list[tuple[str, int | None]]:
    return [
        (f'"{schema}"."{name}"', last)
        for schema, name, last in connection.exec_driver_sql(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences"
            " WHERE schemaname = current_schema()"
        )
    ]


def restore(connection: sa.Connection, state: list[tuple[str, int | None]]) -> None:
    for name, last in state:
        if last is None:
            connection.exec_driver_sql("SELECT setval(%s, 1, false)", (name,))
        else:
            connection.exec_driver_sql("SELECT setval(%s, %s, true)", (name, last))


def snapshot(connection: sa.Connection) -> Snapshot:
    tables = [
        name
        for (name,) in connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
    ]
    return {
        table: [
            text
            for (text,) in connection.exec_driver_sql(f'SELECT t::text FROM "{table}" t ORDER BY 1')
        ]
        for table in tables
    }


def twice(connection: sa.Connection, write: Callable[[Session], Any]) -> Snapshot:
    """What `write` stored (see the module): every table's rows, the database left as it was."""
    assert connection.dialect.name == "postgresql"
    state = sequences(connection)
    savepoint = connection.begin_nested()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        write(session)
        session.flush()
        stored = snapshot(connection)
    finally:
        session.close()
        savepoint.rollback()
        restore(connection, state)
    return stored
