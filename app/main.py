"""The FastAPI application: wiring only (routes, error handlers, the database)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app.background import BackgroundWorker
from app.db import make_engine, session_factory
from app.errors import install_error_handlers
from app.idempotency import claims as idempotency
from app.observability import health, metrics
from app.observability.middleware import observe_requests
from app.openapi import install_openapi
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
    tokens,
    webhook_endpoints,
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
        title="Hourglass",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by install_openapi
        redoc_url=None,
        # First of every route's dependencies: Idempotency-Key on every write (SPEC rule 8).
        dependencies=[idempotency.IdempotencyClaim],
    )
    app.state.settings = settings
    if settings.issuer.sample:
        logging.getLogger("hourglass").warning(
            "no issuer configured (HOURGLASS_ISSUER_NAME and the other HOURGLASS_ISSUER_* "
            "variables): invoices are issued by a sample issuer and marked "
            '"SAMPLE — not a valid invoice"'
        )
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.billing_worker = BackgroundWorker(settings, lambda: app.state.session_factory)
    install_error_handlers(app)

    for module in (
        health,
        metrics,
        plans,
        customers,
        contracts,
        work_entries,
        hours,
        sla,
        invoices,
        billing_runs,
        payments,
        webhook_endpoints,
        portal,
        tokens,
    ):
        app.include_router(module.router)
    idempotency.install(app)  # last: it wraps every route included above
    install_openapi(app)
    observe_requests(app)
    return app
