"""Wiring for payments: the Stripe gateway from settings, and collection after a billing run."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from app import tables  # noqa: F401  (every table, so foreign keys resolve in the CLI)
from app.cli_errors import print_error
from app.settings import Settings
from invoices.payments import StripeConfig, StripeGateway
from invoices.payments.collection import DEFAULT_LIMIT, CollectionSummary, collect_pending
from ledger.base import utcnow

log = logging.getLogger("hourglass.payments")


def gateway_from_settings(settings: Settings) -> StripeGateway | None:
    """None when `HOURGLASS_STRIPE_API_KEY` is not set: payments are then switched off."""
    if not settings.stripe_api_key:
        return None
    return StripeGateway(
        StripeConfig(
            api_key=settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            webhook_secret=settings.stripe_webhook_secret,
        )
    )


def app_gateway(request: Request) -> StripeGateway | None:
    """The app's gateway, built once from its settings."""
    state = request.app.state
    if not hasattr(state, "stripe_gateway"):
        state.stripe_gateway = gateway_from_settings(state.settings)
    gateway: StripeGateway | None = state.stripe_gateway
    return gateway


GatewayDep = Annotated[StripeGateway | None, Depends(app_gateway)]


def collect_after_run(
    gateway: StripeGateway | None, factory: sessionmaker[Session]
) -> CollectionSummary | None:
    """Collect what the run queued, when Stripe is configured. The invoices are issued either
    way, so a failure here is logged, not raised: the next collection picks the rows up."""
    if gateway is None:
        return None
    try:
        return collect_pending(factory, gateway, now=utcnow())
    except Exception:
        log.exception("collecting payments after the billing run failed; the outbox keeps them")
        return None


def print_collection(console: Console, summary: CollectionSummary) -> None:
    table = Table(title=f"Payment collection: {len(summary.results)} invoices")
    for column in ("invoice", "outcome", "detail"):
        table.add_column(column)
    for result in summary.results:
        table.add_row(
            result.invoice_number or str(result.invoice_id), result.outcome, result.detail or ""
        )
    console.print(table)
    counts = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.counts().items()))
    collected = f"collected {summary.succeeded} of {len(summary.results)}"
    console.print(f"{collected}: {counts or 'nothing due'}")


def run_collection(settings: Settings, factory: sessionmaker[Session], *, limit: int) -> int:
    """`hourglass payments collect`: the exit code (2 when Stripe is not configured)."""
    console = Console()
    gateway = gateway_from_settings(settings)
    if gateway is None:
        print_error("Stripe is not configured: set HOURGLASS_STRIPE_API_KEY")
        return 2
    print_collection(console, collect_pending(factory, gateway, now=utcnow(), limit=limit))
    return 0


__all__ = [
    "DEFAULT_LIMIT",
    "GatewayDep",
    "app_gateway",
    "collect_after_run",
    "gateway_from_settings",
    "print_collection",
    "run_collection",
]
