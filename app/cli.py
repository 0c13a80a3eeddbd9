"""The `hourglass` command: database, server, tokens, demo data, billing."""

from __future__ import annotations

import os

import typer

from app.auth.tokens import Role, create_token
from app.db import make_engine, session_factory, unit_of_work
from app.migrations import upgrade
from app.settings import load_settings
from ledger.errors import DomainError

cli = typer.Typer(
    help="Hourglass: support-package contracts, hours and invoices.", no_args_is_help=True
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
token_cli = typer.Typer(help="API tokens.", no_args_is_help=True)
billing_cli = typer.Typer(help="The month-end billing job.", no_args_is_help=True)
payments_cli = typer.Typer(help="Collecting invoices through Stripe.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(token_cli, name="token")
cli.add_typer(billing_cli, name="billing")
cli.add_typer(payments_cli, name="payments")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to HOURGLASS_DATABASE_URL."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    typer.echo("database is at the latest schema")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, help="worker processes (the API is stateless)"),
) -> None:
    """Apply migrations, then serve the API and the portal."""
    import uvicorn

    db_upgrade()
    # Every server process works on billing runs in a background thread (SPEC "Month-end
    # billing job"); the variable reaches uvicorn's worker processes too.
    os.environ.setdefault("HOURGLASS_BACKGROUND_WORKER", "true")
    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers)


@token_cli.command("create")
def token_create(
    role: Role = typer.Option(..., help="finance, support or customer"),
    customer: int | None = typer.Option(None, help="the customer a customer token is bound to"),
    name: str = typer.Option("", help="a label for the token"),
) -> None:
    """Create a token and print it, alone, on the last line. It is not shown again."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            row, token = create_token(session, role=role, customer_id=customer, name=name)
            typer.echo(f"created {row.role} token {row.prefix}… (id {row.id}); it is shown once:")
    except DomainError as exc:
        raise _fail(exc.detail) from exc
    finally:
        engine.dispose()
    typer.echo(token)


@cli.command()
def demo() -> None:
    """Load a small realistic data set: plans, customers, contracts, a month of work."""
    from app.demo import load_demo

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        summary = load_demo(session)
    engine.dispose()
    typer.echo(summary)


@billing_cli.command("run")
def billing_run(
    period: str = typer.Option(..., help="the month to close, YYYY-MM"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the invoices, write nothing"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as one JSON object"),
) -> None:
    """Close a period for every active contract and issue its invoices (resumable).

    Exits 0 when every contract was billed, 1 when some failed, 2 on a bad request."""
    from app.billing_cli import run_billing

    raise typer.Exit(code=run_billing(period, dry_run=dry_run, as_json=as_json))


@billing_cli.command("worker")
def billing_worker(
    exit_when_idle: bool = typer.Option(
        False, "--exit-when-idle", help="stop when no run has work left (default: keep polling)"
    ),
) -> None:
    """Work on billing runs started anywhere (PostgreSQL: any number of workers)."""
    from app.billing_cli import run_worker

    run_worker(exit_when_idle=exit_when_idle)


@payments_cli.command("collect")
def payments_collect(
    limit: int = typer.Option(1000, min=1, help="at most this many invoices in one go"),
) -> None:
    """Charge every issued invoice the payment outbox holds due, and print what happened."""
    from app.payments import run_collection

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        code = run_collection(settings, session_factory(engine), limit=limit)
    finally:
        engine.dispose()
    raise typer.Exit(code=code)


def main() -> None:
    cli()
