"""Alembic environment: the same metadata and database URL as the app.

A caller may hand over an open connection in `config.attributes["connection"]` (tests, the
CLI) or a URL in `config.attributes["database_url"]`; otherwise HOURGLASS_DATABASE_URL.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from alembic import context
from app.db import make_engine, normalise_url
from app.settings import load_settings
from app.tables import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    url = config.attributes.get("database_url") or load_settings().database_url
    context.configure(url=normalise_url(url), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or load_settings().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
