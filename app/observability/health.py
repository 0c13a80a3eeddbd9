"""`/health` (the process lives) and `/ready` (the database answers and is at the latest schema).

A load balancer sends traffic only to a ready process; an orchestrator restarts one whose
`/health` stops answering. `/ready` says 503 while migrations are pending, so a process started
against a database that was not upgraded yet takes no requests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from app.errors import problem

router = APIRouter(tags=["health"])


@cache
def latest_revisions() -> frozenset[str]:
    """The heads of the migrations shipped with this code (read once per process). Alembic
    is imported here, on the first probe, not when a server or worker starts."""
    from alembic.script import ScriptDirectory

    from app.migrations import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str] | None:
    """The revisions the database is at; None when it has no `alembic_version` table.

    Read on a raw DBAPI connection: on SQLite our sessions begin with `BEGIN IMMEDIATE` (the
    write lock), which a readiness probe must never wait for."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT version_num FROM alembic_version")
            return {row[0] for row in cursor.fetchall()}
        except Exception:  # the table is missing: no schema
            return None
        finally:
            cursor.close()
            raw.rollback()
    finally:
        raw.close()


def schema_problem(engine: Engine) -> str | None:
    """Why the database cannot serve this code, or None when it can."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if path and path != ":memory:" and not Path(path).exists():
        return "the database has no Hourglass schema: run `hourglass db upgrade`"  # not created
    try:
        current = current_revisions(engine)
    except Exception as exc:  # no connection at all
        return f"the database is not reachable ({type(exc).__name__})"
    latest = latest_revisions()
    if not current:
        return "the database has no Hourglass schema: run `hourglass db upgrade`"
    if current != latest:
        return (
            f"the database schema is at {', '.join(sorted(current))}, this code needs "
            f"{', '.join(sorted(latest))}: run `hourglass db upgrade`"
        )
    return None


@router.get("/health")
def health() -> dict[str, str]:
    """Answers while the process lives; touches nothing."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"description": "the database is unreachable or not at the latest schema"}},
)
def ready(request: Request) -> JSONResponse:
    """200 when the database is reachable and its schema is at the latest migration."""
    reason = schema_problem(request.app.state.engine)
    if reason is not None:
        return problem(503, reason, title="Not ready", slug="not-ready")
    return JSONResponse({"status": "ready", "schema": sorted(latest_revisions())})
