"""`hourglass billing run`, as a subprocess against a database of its own."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from tests.invoices.billing.helpers import (
    hourglass,
    load_dataset,
    open_database,
    stored_invoices,
    table_counts,
)


def test_dry_run_prints_the_preview_then_a_real_run_prints_the_summary(
    fresh_database: str,
) -> None:
    url = fresh_database
    data = load_dataset(url, contracts=5, entries_per_contract=2)
    broken = data.contract_ids[0]
    before = table_counts(url)

    dry = hourglass(url, "billing", "run", "--period", "2026-01", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run 2026-01: nothing was written" in dry.stdout
    assert "5 invoices would be issued" in dry.stdout
    shown = _table_rows(dry.stdout)
    assert sorted(int(row[0]) for row in shown) == sorted(data.contract_ids)
    assert {row[1] for row in shown} == {"2026-01"}
    shown_totals = {int(row[0]): row[5] for row in shown}
    assert table_counts(url) == before

    # A currency Hourglass cannot invoice in: this contract's billing fails.
    with open_database(url) as factory, factory() as session:
        session.execute(
            sa.text("UPDATE contracts SET currency = 'XTS' WHERE id = :id"), {"id": broken}
        )
        session.commit()
    real = hourglass(url, "billing", "run", "--period", "2026-01")
    assert real.returncode == 1, real.stderr  # not every contract was billed
    out = real.stdout
    assert "Billing run 1: completed_with_failures" in out
    for header in ("contracts", "invoices", "totals", "failures"):
        assert header in out
    invoices = stored_invoices(url)
    assert len(invoices) == 4 and broken not in {i.contract_id for i in invoices}
    eur = sum(i.total_minor for i in invoices if i.currency == "EUR")
    jpy = sum(i.total_minor for i in invoices if i.currency == "JPY")
    (cells,) = _table_rows(out)
    assert cells == ["5", "4", f"{eur // 100}.{eur % 100:02d} EUR, {jpy} JPY", "1"]
    assert f"contract {broken}" in out and "XTS" in out
    # The dry run showed what the run issued.
    for invoice in invoices:
        amount = (
            str(invoice.total_minor)
            if invoice.currency == "JPY"
            else f"{invoice.total_minor // 100}.{invoice.total_minor % 100:02d}"
        )
        assert shown_totals[invoice.contract_id] == f"{amount} {invoice.currency}"


def _table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_bad_or_unfinished_period_exits_with_code_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hourglass.db'}"
    assert hourglass(url, "db", "upgrade").returncode == 0
    bad = hourglass(url, "billing", "run", "--period", "2026-13")
    assert bad.returncode == 2, (bad.stdout, bad.stderr)
    assert "error: '2026-13' is not a month in the form YYYY-MM" in bad.stderr
    not_ended = hourglass(url, "billing", "run", "--period", "2099-01")
    assert not_ended.returncode == 2, (not_ended.stdout, not_ended.stderr)
    assert "error: period 2099-01 has not ended yet" in not_ended.stderr
    assert "Traceback" not in bad.stderr + not_ended.stderr


def test_json_summary_and_exit_code_zero_when_every_contract_is_billed(
    fresh_database: str,
) -> None:
    url = fresh_database
    data = load_dataset(url, contracts=4, entries_per_contract=1)
    run = hourglass(url, "billing", "run", "--period", "2026-01", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["contracts"], summary["done"]) == ("completed", 4, 4)
    assert (summary["invoices"], summary["failed"], summary["failures"]) == (4, 0, [])
    assert set(summary["totals"]) == set(data.currencies.values())
    again = hourglass(url, "billing", "run", "--period", "2026-01", "--dry-run", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["invoices"] == 0
