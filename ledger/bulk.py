"""Writing many rows in a few statements, the same way on SQLite and PostgreSQL (issue #12).

`insert_rows` for rows whose ids nobody needs, `update_by_id` for a value each in many rows:
one statement compiled once and sent with every row's parameters (an executemany: psycopg
pipelines it into one round trip, SQLite runs it in-process). `insert_rows_ids` for rows whose
ids are needed, as plain rows (no ORM object built): on PostgreSQL the ids are drawn from the
table's sequence in one statement and the rows inserted with them by one executemany; on SQLite
one ordered `INSERT … RETURNING`. Either way the ids ascend in the rows' order, as the ORM's
unit of work assigns them.

Multi-row `INSERT … VALUES (…), (…)` and `UPDATE … CASE id WHEN …` were tried first: each
statement is compiled anew and psycopg re-parses its thousands of placeholders, which cost
more than the rows (a third of a chunk in a profile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows of the same columns, one executemany."""
    if rows:
        session.execute(sa.insert(table), list(rows))


def insert_rows_ids(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Many rows of the same columns (no `id`), inserted; their new ids, in the rows' order."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = sorted(
            session.scalars(
                sa.select(
                    sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))
                ).select_from(sa.func.generate_series(1, len(rows)))
            )
        )
        session.execute(
            sa.insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
        return ids
    returned = session.execute(
        sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [id_ for (id_,) in returned]


def model_rows(models: Sequence[Any]) -> list[dict[str, Any]]:
    """Unsaved table models (SQLModel) as rows for `insert_rows`: every column as the model's
    own defaults filled it, the id left to the database."""
    return [{k: v for k, v in m.model_dump().items() if k != "id"} for m in models]


def update_by_id(
    session: Session,
    table: sa.Table,
    values: Mapping[str, Mapping[int, Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Set each named column of the rows given by id to that row's value (and the columns of
    `same` to one value for all of them), one executemany. Every column names the same ids."""
    ids = sorted({key for column in values.values() for key in column})
    if not ids:
        return
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in values} | dict(same or {}))
    )
    session.execute(
        statement,
        [
            {"row_id": key, **{f"new_{name}": column[key] for name, column in values.items()}}
            for key in ids
        ],
    )
