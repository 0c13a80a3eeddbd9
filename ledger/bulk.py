"""Writing many rows in a few statements, the same way on SQLite and PostgreSQL (issue #12).

`insert_rows` for rows whose ids nobody needs: multi-row `INSERT … VALUES (…), (…)`, one
statement per page. Rows whose ids are needed go through the ORM unit of work
(`session.add_all` + one flush), which batches same-shaped rows into one ordered
`INSERT … RETURNING` on PostgreSQL ("insertmanyvalues"; SQLite gets one per row, in-process).
`update_by_id` moves one column of many rows to a value each, in one `UPDATE … CASE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

INSERT_PAGE = 500  # rows per multi-row INSERT: 500 × 14 columns stay below SQLite's 32,766


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows in multi-row INSERTs (a few hundred rows each, within every engine's
    bound-parameter limit): one statement, not one per row."""
    for start in range(0, len(rows), INSERT_PAGE):
        session.execute(sa.insert(table).values(list(rows[start : start + INSERT_PAGE])))


def model_rows(models: Sequence[Any]) -> list[dict[str, Any]]:
    """Unsaved table models (SQLModel) as rows for `insert_rows`: every column as the model's
    own defaults filled it, the id left to the database."""
    return [{k: v for k, v in m.model_dump().items() if k != "id"} for m in models]


def by_id(table: sa.Table, column: str, values: Mapping[int, Any]) -> Any:
    """`CASE table.id WHEN … THEN …`, each value typed as `column`."""
    kind = table.c[column].type
    return sa.case(
        {key: sa.literal(value, type_=kind) for key, value in values.items()},
        value=table.c.id,
    )


def update_by_id(
    session: Session,
    table: sa.Table,
    values: Mapping[str, Mapping[int, Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Set each named column of the rows given by id to that row's value (and the columns of
    `same` to one value for all of them), in one UPDATE. Every column names the same ids."""
    ids = sorted({key for column in values.values() for key in column})
    if not ids:
        return
    session.execute(
        sa.update(table)
        .where(table.c.id.in_(ids))
        .values(
            {
                **{name: by_id(table, name, column) for name, column in values.items()},
                **(same or {}),
            }
        )
    )
