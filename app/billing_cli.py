"""The terminal side of the billing job: a progress bar and a summary."""

from __future__ import annotations

import gc
import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.billing import make_biller
from app.cli_errors import print_error
from app.db import make_engine, session_factory
from app.payments import collect_after_run, gateway_from_settings, print_collection
from app.settings import load_settings
from invoices.queries import preview_to_read
from invoices.runs import flows
from ledger.base import utcnow
from ledger.errors import DomainError
from ledger.periods import parse_month

console = Console()


def run_billing(period: str, *, dry_run: bool, as_json: bool = False) -> int:
    try:
        month = parse_month(period)
    except ValueError as exc:
        print_error(str(exc))
        return 2
    settings = load_settings()
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    try:
        biller = make_biller(settings, factory)
        if dry_run:
            return _preview(biller, month, period, as_json=as_json)
        try:
            run_id = flows.start_run(factory, month, now=utcnow())
        except DomainError as exc:
            print_error(exc.detail)
            return 2
        if as_json:
            result = flows.work_run(biller, run_id)
            collect_after_run(gateway_from_settings(settings), factory)
            print(json.dumps(result, default=str))
            return 1 if result["failures"] else 0
        with Progress(
            TextColumn(f"billing {period}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[invoices]} invoices, {task.fields[failures]} failed"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("run", total=None, invoices=0, failures=0)

            def on_progress(summary: dict[str, Any]) -> None:
                finished = summary["contracts"] - summary.get("pending", 0)
                progress.update(
                    task,
                    total=summary["contracts"],
                    completed=finished,
                    invoices=summary["invoices"],
                    failures=len(summary["failures"]),
                )

            result = flows.work_run(biller, run_id, on_progress=on_progress)
        _print_summary(result)
        collected = collect_after_run(gateway_from_settings(settings), factory)
        if collected is not None:
            print_collection(console, collected)
        return 1 if result["failures"] else 0
    finally:
        engine.dispose()


def _print_summary(result: dict[str, Any]) -> None:
    table = Table(title=f"Billing run {result['id']}: {result['status']}")
    table.add_column("contracts", justify="right")
    table.add_column("invoices", justify="right")
    table.add_column("totals")
    table.add_column("failures", justify="right")
    totals = ", ".join(f"{amount} {currency}" for currency, amount in result["totals"].items())
    table.add_row(
        str(result["contracts"]),
        str(result["invoices"]),
        totals or "-",
        str(len(result["failures"])),
    )
    console.print(table)
    for failure in result["failures"]:
        console.print(f"[red]contract {failure['contract_id']}[/red]: {failure['error']}")


def _preview(biller: flows.Biller, month: Any, period: str, *, as_json: bool) -> int:
    result = flows.preview_run(biller, month, now=utcnow())
    previews = result.previews
    if as_json:
        summary = {
            "period": period,
            "status": "preview",
            "invoices": len(previews),
            "previews": [preview_to_read(p).model_dump(mode="json") for p in previews],
            "failures": result.failures,
        }
        print(json.dumps(summary))
        return 1 if result.failures else 0
    table = Table(title=f"Dry run {period}: nothing was written")
    for column in ("contract", "period", "lines", "subtotal", "tax", "total"):
        table.add_column(column)
    for preview in previews:
        read = preview_to_read(preview)
        table.add_row(
            str(read.contract_id),
            read.period,
            str(len(read.lines)),
            read.subtotal,
            read.tax,
            f"{read.total} {read.currency}",
        )
    console.print(table)
    console.print(f"{len(previews)} invoices would be issued")
    for failure in result.failures:
        console.print(f"[red]contract {failure['contract_id']}[/red]: {failure['error']}")
    return 1 if result.failures else 0


def run_worker(*, exit_when_idle: bool) -> None:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    biller = make_biller(settings, session_factory(engine))
    tick = None
    if settings.auto_billing:
        from app.auto_billing import make_tick

        tick = make_tick()
    # What the worker imported and built so far lives as long as the process: frozen out of
    # the collector's reach, each full collection walks only what the chunks hold (walking
    # the ~180k start-up objects was a tenth of a chunk's CPU).
    gc.collect()
    gc.freeze()
    processed = flows.work_any(biller, idle_exit=exit_when_idle, tick=tick)
    console.print(f"worker {biller.worker}: {processed} chunks and document batches")
    engine.dispose()
