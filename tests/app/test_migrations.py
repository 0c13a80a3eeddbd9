"""Alembic migrations: the models and the migrations agree (what `alembic check` checks), every
revision downgrades cleanly, and there is exactly one head. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from app.db import make_engine
from app.migrations import alembic_config, downgrade, upgrade
from app.tables import metadata

VERSION_TABLE = "alembic_version"


@pytest.fixture
def empty_engine(database_factory: Any) -> Iterator[Engine]:
    """A brand-new database with no schema at all."""
    url = database_factory.empty()
    engine = make_engine(url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()
    database_factory.drop(url)


@pytest.fixture
def migrated_engine(database_factory: Any) -> Iterator[Engine]:
    """A database of its own at `alembic upgrade head`."""
    url = database_factory.create()
    engine = make_engine(url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()
    database_factory.drop(url)


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def differences(engine: Engine, target: sa.MetaData = metadata) -> list[Any]:
    """What `alembic check` reports: the autogenerate diff between the database and models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "render_as_batch": connection.dialect.name == "sqlite",
            },
        )
        return list(compare_metadata(context, target))


def test_there_is_exactly_one_head() -> None:
    heads = script().get_heads()
    assert len(heads) == 1, f"several migration heads, merge them: {heads}"


def test_every_revision_is_reachable_from_base() -> None:
    revisions = list(script().walk_revisions("base", "heads"))
    assert revisions
    assert [r for r in revisions if r.down_revision is None] == [revisions[-1]]


def test_models_match_migrations(migrated_engine: Engine) -> None:
    assert current_revision(migrated_engine) == script().get_current_head()
    assert differences(migrated_engine) == []


def test_the_drift_check_would_notice_drift(migrated_engine: Engine) -> None:
    """Guard against a comparison that can never fail: drifted models must show up."""
    drifted = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["customers"].append_column(sa.Column("nickname", sa.String(50)))
    plans = drifted.tables["plans"]
    plans.c["annual_discount_percent"].type = sa.Integer()  # was DecimalText (a string)
    sa.Table("forgotten", drifted, sa.Column("id", sa.Integer, primary_key=True))

    found = differences(migrated_engine, drifted)
    kinds = {(d[0] if isinstance(d, tuple) else d[0][0]) for d in found}
    assert {"add_column", "add_table", "modify_type"} <= kinds, found


def test_check_constraints_are_in_the_database(migrated_engine: Engine) -> None:
    """Autogenerate does not compare CHECK constraints: make sure each one was migrated."""
    inspector = sa.inspect(migrated_engine)
    checked = 0
    for table in metadata.sorted_tables:
        expected = {
            str(c.name) for c in table.constraints if isinstance(c, sa.CheckConstraint) and c.name
        }
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert expected <= found, f"{table.name}: missing {expected - found}"
        checked += len(expected)
    assert checked >= 10


def test_check_constraints_are_enforced(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(
            sa.text(
                "INSERT INTO api_tokens (name, role, token_hash, prefix, created_at)"
                " VALUES ('x', 'customer', 'h', 'p', CURRENT_TIMESTAMP)"
            )
        )


def test_downgrade_to_base_then_upgrade_to_head(empty_engine: Engine) -> None:
    head = script().get_current_head()
    upgrade(empty_engine, "head")
    assert tables(empty_engine) == set(metadata.tables) | {VERSION_TABLE}
    assert current_revision(empty_engine) == head

    downgrade(empty_engine, "base")
    assert tables(empty_engine) == {VERSION_TABLE}
    assert current_revision(empty_engine) is None

    upgrade(empty_engine, "head")
    assert tables(empty_engine) == set(metadata.tables) | {VERSION_TABLE}
    assert current_revision(empty_engine) == head
    assert differences(empty_engine) == []


def test_each_revision_downgrades_and_upgrades_again(empty_engine: Engine) -> None:
    """Step by step, like pytest-alembic's up/down consistency test."""
    revisions = [r.revision for r in reversed(list(script().walk_revisions("base", "heads")))]
    previous: str = "base"
    for revision in revisions:
        upgrade(empty_engine, revision)
        after_upgrade = tables(empty_engine)
        downgrade(empty_engine, previous)
        assert current_revision(empty_engine) == (None if previous == "base" else previous)
        upgrade(empty_engine, revision)
        assert tables(empty_engine) == after_upgrade
        assert current_revision(empty_engine) == revision
        previous = revision


def test_upgrading_twice_is_a_no_op(migrated_engine: Engine) -> None:
    before = tables(migrated_engine)
    upgrade(migrated_engine, "head")
    assert tables(migrated_engine) == before
    assert current_revision(migrated_engine) == script().get_current_head()
