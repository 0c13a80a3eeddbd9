"""One error style for the whole `hourglass` command: `error: <what went wrong>` on stderr, one
line, no traceback and no box; and the check that a database has the Hourglass schema."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine

from app.db import normalise_url


class CliError(Exception):
    """Raised by a command; `main` prints it the common way and exits with `exit_code`."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def print_error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def shown_url(url: str) -> str:
    """The database URL as it may be printed: without its password."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return "(an unreadable database URL)"
    return parsed._replace(password=None).render_as_string(hide_password=False)


def no_schema(url: str) -> CliError:
    return CliError(
        f"the database {shown_url(url)} has no Hourglass schema;"
        " create it with: hourglass db upgrade"
    )


def sqlite_file_missing(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist (connecting would create it)."""
    parsed = sa.make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return False
    return not Path(database).exists()


def require_schema(url: str, engine: Engine | None = None) -> None:
    """Refuse, in one line, a database that has no Hourglass schema (or cannot be reached),
    without creating an empty SQLite file on the way."""
    if sqlite_file_missing(url):
        raise no_schema(url)
    from app.db import make_engine

    own = engine is None
    engine = engine or make_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                raise no_schema(url)
    except sa.exc.OperationalError as exc:
        raise CliError(f"cannot reach the database {shown_url(url)}: {_first_line(exc)}") from exc
    finally:
        if own:
            engine.dispose()


def _first_line(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
