"""The `hourglass` command: database, server, tokens, demo data, billing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import sqlalchemy as sa
import typer

from app.auth.tokens import Role, create_token, list_tokens, revoke_token, to_read
from app.cli_errors import CliError, print_error, require_schema, shown_url
from app.db import make_engine, session_factory, unit_of_work
from app.settings import load_settings
from ledger.errors import DomainError

# Plain output: errors are ours (`error: …`, one line), never rich boxes.
_plain = {"no_args_is_help": True, "rich_markup_mode": None, "pretty_exceptions_enable": False}
cli = typer.Typer(help="Hourglass: support-package contracts, hours and invoices.", **_plain)
db_cli = typer.Typer(help="Database schema.", **_plain)
token_cli = typer.Typer(help="API tokens.", **_plain)
billing_cli = typer.Typer(help="The month-end billing job.", **_plain)
payments_cli = typer.Typer(help="Collecting invoices through Stripe.", **_plain)
notifications_cli = typer.Typer(help="E-mails, webhooks and hours alerts.", **_plain)
cli.add_typer(db_cli, name="db")
cli.add_typer(token_cli, name="token")
cli.add_typer(billing_cli, name="billing")
cli.add_typer(payments_cli, name="payments")
cli.add_typer(notifications_cli, name="notifications")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"hourglass {version('hourglass')}")
        raise typer.Exit()


@cli.callback()
def _main(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Hourglass: support-package contracts, hours and invoices."""


def _fail(message: str) -> CliError:
    return CliError(message, exit_code=2)


def _schema_url() -> str:
    """The configured database URL, once it is known to hold the Hourglass schema."""
    url = load_settings().database_url
    require_schema(url)
    return url


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to HOURGLASS_DATABASE_URL."""
    from app.migrations import upgrade  # alembic only for the commands that migrate

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    typer.echo("database is at the latest schema")


@db_cli.command("backup")
def db_backup(
    path: Path = typer.Argument(..., help="where to write the copy (a new file)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace PATH if it exists"),
) -> None:
    """Write a consistent copy of the SQLite database while the service runs."""
    from app.backup import BackupError, backup_sqlite

    try:
        size = backup_sqlite(load_settings().database_url, path, overwrite=overwrite)
    except BackupError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"backed up to {path} ({size} bytes)")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(
        1, min=1, envvar="HOURGLASS_WORKERS", help="API processes (the API is stateless)"
    ),
    worker_healthcheck_timeout: int = typer.Option(
        60,
        min=1,
        envvar="HOURGLASS_WORKER_HEALTHCHECK_TIMEOUT",
        help="seconds a worker process may take to answer the supervisor (start-up included)",
    ),
) -> None:
    """Apply migrations (once, here, before any worker starts), then serve the API and portal."""
    from app.notifications import start_notifications_thread
    from app.serving import serve_api

    db_upgrade()
    # Every server process works on billing runs in a background thread (SPEC "Month-end
    # billing job"); the variable reaches uvicorn's worker processes too.
    os.environ.setdefault("HOURGLASS_BACKGROUND_WORKER", "true")
    settings = load_settings()
    engine = make_engine(settings.database_url)
    start_notifications_thread(settings, session_factory(engine))
    serve_api(host=host, port=port, workers=workers, healthcheck_timeout=worker_healthcheck_timeout)


@token_cli.command("create")
def token_create(
    role: Role = typer.Option(..., help="finance, support or customer"),
    customer: int | None = typer.Option(None, help="the customer a customer token is bound to"),
    name: str = typer.Option("", help="a label for the token"),
) -> None:
    """Create a token and print it, alone, on the last line. It is not shown again."""
    engine = make_engine(_schema_url())
    try:
        with unit_of_work(session_factory(engine)) as session:
            row, token = create_token(session, role=role, customer_id=customer, name=name)
            typer.echo(f"created {row.role} token {row.prefix}… (id {row.id}); it is shown once:")
    except DomainError as exc:
        raise _fail(exc.detail) from exc
    finally:
        engine.dispose()
    typer.echo(token)


@token_cli.command("list")
def token_list(
    as_json: bool = typer.Option(False, "--json", help="print the tokens as JSON"),
) -> None:
    """List every token (never the token itself): id, role, customer, name, created, revoked."""
    engine = make_engine(_schema_url())
    try:
        with unit_of_work(session_factory(engine)) as session:
            rows = [to_read(row) for row in list_tokens(session, limit=100_000)]
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    typer.echo(
        f"{'id':>5}  {'role':<8}  {'customer':>8}  {'prefix':<11}  {'created':<20}  status  name"
    )
    for row in rows:
        status = "revoked" if row.revoked_at else "active"
        customer = str(row.customer_id) if row.customer_id is not None else "-"
        created = row.created_at.strftime("%Y-%m-%d %H:%M UTC")
        typer.echo(
            f"{row.id:>5}  {row.role.value:<8}  {customer:>8}  {row.prefix + '…':<11}  "
            f"{created:<20}  {status:<7} {row.name}"
        )


@token_cli.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="the token's id (see: token list)"),
) -> None:
    """Revoke a token: every request carrying it gets 401 from now on."""
    engine = make_engine(_schema_url())
    try:
        with unit_of_work(session_factory(engine)) as session:
            row = revoke_token(session, token_id)
            typer.echo(f"revoked {row.role} token {row.id} ({row.prefix}…)")
    except DomainError as exc:
        raise CliError(exc.detail) from exc
    finally:
        engine.dispose()


@cli.command()
def demo() -> None:
    """Load a small realistic data set: plans, customers, contracts, a month of work."""
    from app.demo import load_demo
    from app.migrations import upgrade

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

    _schema_url()
    raise typer.Exit(code=run_billing(period, dry_run=dry_run, as_json=as_json))


@billing_cli.command("worker")
def billing_worker(
    exit_when_idle: bool = typer.Option(
        False, "--exit-when-idle", help="stop when no run has work left (default: keep polling)"
    ),
) -> None:
    """Work on billing runs started anywhere (PostgreSQL: any number of workers)."""
    from app.billing_cli import run_worker

    _schema_url()
    run_worker(exit_when_idle=exit_when_idle)


@payments_cli.command("collect")
def payments_collect(
    limit: int = typer.Option(1000, min=1, help="at most this many invoices in one go"),
) -> None:
    """Charge every issued invoice the payment outbox holds due, and print what happened."""
    from app.payments import run_collection

    _schema_url()
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        code = run_collection(settings, session_factory(engine), limit=limit)
    finally:
        engine.dispose()
    raise typer.Exit(code=code)


@notifications_cli.command("deliver")
def notifications_deliver(
    once: bool = typer.Option(False, "--once", help="one pass, then exit (default: keep going)"),
    poll: float = typer.Option(5.0, min=0.1, help="seconds between passes"),
) -> None:
    """Relay hours alerts, send due e-mails and deliver due webhooks."""
    import time

    from rich.console import Console

    from app.notifications import run_pass

    settings = load_settings()
    engine = make_engine(settings.database_url)
    console = Console()
    try:
        while True:
            run_pass(settings, session_factory(engine), console)
            if once:
                return
            time.sleep(poll)
    finally:
        engine.dispose()


def main() -> None:
    """Every error the command reports looks the same: `error: …` on stderr, one line."""
    from app.observability.logs import configure_logging

    configure_logging(load_settings().log_format)
    command = typer.main.get_command(cli)
    try:
        code = command.main(standalone_mode=False)
    except typer.Abort:
        print_error("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # bad usage: a missing option, an unknown command
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        print_error(message + hint)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except CliError as exc:
        print_error(exc.message)
        sys.exit(exc.exit_code)
    except DomainError as exc:
        print_error(exc.detail)
        sys.exit(1)
    except sa.exc.OperationalError as exc:
        url = shown_url(load_settings().database_url)
        print_error(f"database {url}: {str(exc.orig or exc).strip().splitlines()[0]}")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
