"""Writing many rows in a few statements, and reading rows by many keys (issue #12).

`insert_rows` for rows whose ids nobody needs, `update_by_id` for a value each in many rows,
`insert_rows_ids` for rows whose ids are needed, as plain rows (no ORM object built), their
ids ascending in the rows' order as the ORM's unit of work assigns them. `one_of` is a
column's `IN (…)` for many keys.

On PostgreSQL the rows go in with one `COPY … FROM STDIN` on the session's own connection (same
transaction), their ids drawn from the table's sequence first in one statement when they are
needed; every value is first put through its column type's bind processing, exactly what an
executemany would send (the server parses the same text), and the columns a row leaves out get
their model defaults as SQLAlchemy's insert fills them. `update_by_id` is one `UPDATE … FROM
unnest(ids, values…)` with array parameters, and `one_of` a `= ANY(array)`: one statement text
whatever the number of rows, so psycopg prepares it once (an `IN` list of a different length is
new text, parsed again every time). A `COPY` is sent through the connection's
`before_cursor_execute` / `after_cursor_execute` listeners too, so counting statements sees it.

On SQLite `insert_rows` and `update_by_id` are one executemany, `insert_rows_ids` one ordered
`INSERT … RETURNING`, `one_of` a plain `IN`.

Multi-row `INSERT … VALUES (…), (…)` and `UPDATE … CASE id WHEN …` were tried first: each
statement is compiled anew and psycopg re-parses its thousands of placeholders, which cost
more than the rows (a third of a chunk in a profile). An executemany on PostgreSQL costs the
server a bind and an execute per row; `COPY` streams them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

# Below this many rows an executemany is cheaper: a COPY costs two round trips (the COPY
# statement answered before the data goes), an executemany one.
COPY_FROM_ROWS = 8


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def one_of(session: Session, column: Any, values: Collection[Any]) -> sa.ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:values)`, one parameter."""
    if _postgres(session):
        return column == sa.any_(sa.literal(list(values), ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows of the same columns: one COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    if _postgres(session) and len(rows) >= COPY_FROM_ROWS and _copy(session, table, rows):
        return
    session.execute(sa.insert(table), list(rows))


def insert_rows_ids(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Many rows of the same columns (no `id`), inserted; their new ids, in the rows' order."""
    if not rows:
        return []
    reserved = reserve_ids(session, [(table, len(rows))])
    if reserved is not None:
        (ids,) = reserved
        if len(rows) < COPY_FROM_ROWS or not _copy(session, table, rows, ids=ids):
            session.execute(
                sa.insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
            )
        return ids
    returned = session.execute(
        sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [id_ for (id_,) in returned]


def reserve_ids(session: Session, wanted: Sequence[tuple[sa.Table, int]]) -> list[list[int]] | None:
    """On PostgreSQL, ids for `count` new rows of each table drawn from their sequences in one
    statement, ascending per table (what `insert_rows_ids` would give them, one table after
    the other), for rows then written with their ids by `insert_rows`; None on SQLite, whose
    ids come back from `insert_rows_ids`."""
    if not _postgres(session):
        return None
    if not any(count for _, count in wanted):
        return [[] for _ in wanted]
    drawn = sa.union_all(
        *(
            sa.select(
                sa.literal(n, sa.Integer).label("k"),
                sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id")).label("id"),
            ).select_from(sa.func.generate_series(1, sa.bindparam(f"n{n}", count, sa.Integer)))
            for n, (table, count) in enumerate(wanted)
        )
    )
    ids: list[list[int]] = [[] for _ in wanted]
    for k, id_ in session.execute(drawn):
        ids[k].append(id_)
    return [sorted(these) for these in ids]


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
    `same` to one value for all of them), in one statement. Every column names the same ids."""
    ids = sorted({key for column in values.values() for key in column})
    if not ids:
        return
    if _postgres(session) and _update_from_arrays(session, table, ids, values, same=same):
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


def _update_from_arrays(
    session: Session,
    table: sa.Table,
    ids: list[int],
    values: Mapping[str, Mapping[int, Any]],
    *,
    same: Mapping[str, Any] | None,
) -> bool:
    """`update_by_id` as one `UPDATE … FROM unnest(:ids, :values…)`. A JSON column (no array
    of json to bind) goes as an array of its text, cast back: json stores the text as given,
    the text an executemany sends (`_json_text`)."""
    names = list(values)
    as_text = {name for name in names if isinstance(table.c[name].type, sa.JSON)}

    def carried(name: str) -> Any:
        return sa.Text() if name in as_text else table.c[name].type

    given = (
        sa.func.unnest(
            sa.bindparam("row_ids", type_=ARRAY(table.c.id.type)),
            *(sa.bindparam(f"new_{name}", type_=ARRAY(carried(name))) for name in names),
        )
        .table_valued(
            sa.column("id", table.c.id.type),
            *(sa.column(name, carried(name)) for name in names),
        )
        .render_derived(name="given")
    )
    set_to = {
        name: sa.cast(given.c[name], table.c[name].type) if name in as_text else given.c[name]
        for name in names
    }
    session.execute(
        sa.update(table).where(table.c.id == given.c.id).values(set_to | dict(same or {})),
        {
            "row_ids": ids,
            **{
                f"new_{name}": [
                    _json_text(table.c[name].type, values[name][key])
                    if name in as_text
                    else values[name][key]
                    for key in ids
                ]
                for name in names
            },
        },
    )
    return True


def _json_text(type_: Any, value: Any) -> str | None:
    """A JSON column's value as the text psycopg sends for it (`json.dumps`, as its `Json`
    wrapper does), or SQL NULL."""
    if value is None and type_.none_as_null:
        return None
    return json.dumps(value)


def _copy(
    session: Session,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    ids: Sequence[int] | None = None,
) -> bool:
    """Write the rows (with these ids, if given) with one COPY; False (nothing written) when
    SQLAlchemy's insert would fill a left-out column in a way this does not copy (a SQL
    expression, a sequence)."""
    given = list(rows[0])
    made: list[tuple[str, Any]] = []
    for column in table.columns:
        if (
            column.name in given
            or column.default is None
            or (ids is not None and column.name == "id")
        ):
            continue
        default: Any = column.default
        if default.is_scalar:
            made.append((column.name, lambda arg=default.arg: arg))
        elif default.is_callable:
            made.append((column.name, lambda fn=default.arg: fn(None)))
        else:
            return False
    connection = session.connection()
    dialect = connection.dialect
    names = given + [name for name, _ in made] + (["id"] if ids is not None else [])
    # Each value as the executemany would send it: its column type's bind processing.
    processors = [
        (i, process)
        for i, name in enumerate(names)
        if (process := table.c[name].type._cached_bind_processor(dialect)) is not None
    ]
    preparer = dialect.identifier_preparer
    statement = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(name) for name in names)}) FROM STDIN"
    )
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    listening = connection._has_events or connection.engine._has_events
    if listening:
        connection.dispatch.before_cursor_execute(connection, cursor, statement, {}, None, False)
    try:
        with cursor.copy(statement) as copy:
            for n, row in enumerate(rows):
                values = [row[name] for name in given]
                values.extend(make() for _, make in made)
                if ids is not None:
                    values.append(ids[n])
                for i, process in processors:
                    values[i] = process(values[i])
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    finally:
        cursor.close()
    if listening:
        connection.dispatch.after_cursor_execute(connection, cursor, statement, {}, None, False)
    return True
