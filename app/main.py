"""The FastAPI application: wiring only (routes, error handlers, the database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app.background import BackgroundWorker
from app.db import make_engine, session_factory
from app.errors import install_error_handlers
from app.idempotency.claims import IdempotentReplay, replay_response
from app.routes import (
    billing_runs,
    contracts,
    customers,
    hours,
    invoices,
    payments,
    plans,
    portal,
    sla,
    work_entries,
)
from app.settings import Settings, load_settings

API_DESCRIPTION = """Hourglass tracks support-package contracts — hours that expire, pooling,
overage, SLAs and service credits — and bills them. Every request carries a bearer token.
Money is a decimal string in the contract's currency; durations are integer minutes."""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = engine or make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = app.state.billing_worker
        if settings.background_worker:
            worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        title="Hourglass", version="1.0.0", description=API_DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.billing_worker = BackgroundWorker(settings, lambda: app.state.session_factory)
    install_error_handlers(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: object, exc: IdempotentReplay) -> object:
        return replay_response(exc)

    for module in (
        plans,
        customers,
        contracts,
        work_entries,
        hours,
        sla,
        invoices,
        billing_runs,
        payments,
        portal,
    ):
        app.include_router(module.router)
    return app
