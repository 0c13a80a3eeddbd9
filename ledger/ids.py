"""Many rows whose new ids are needed, inserted without a multi-row statement (issue #12).

An executemany `INSERT … RETURNING` goes through SQLAlchemy's "insertmanyvalues": one
`INSERT … VALUES (…), (…) … RETURNING` of thousands of placeholders, which psycopg re-parses
every time (~0.1 s per 1,000 rows, more than the rows cost the server). On PostgreSQL the ids
are instead reserved from the table's sequence in one query, then the rows, ids included, go in
one plain executemany (compiled once, pipelined by psycopg). SQLite keeps the `RETURNING`
executemany: it runs in-process.

Either way the ids follow the rows' order, as `sort_by_parameter_order` gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


def insert_returning_ids(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows of the same columns (no `id`) and return their new ids in row order.

    PostgreSQL: two statements whatever the number of rows; SQLite: one."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        returning = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [int(i) for i in session.scalars(returning, list(rows)).all()]
    ids = sorted(
        int(i)
        for i in session.scalars(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"table": table.name, "count": len(rows)},
        )
    )
    session.execute(
        sa.insert(table), [dict(row, id=new_id) for row, new_id in zip(rows, ids, strict=True)]
    )
    return ids
