"""A month's hours statement as CSV: one row per work entry, every figure in whole minutes.

Minutes stay integers (never hours as floats) so the file adds up to the statement exactly:
the `allotment_minutes`, `overage_minutes`, `on_demand_minutes` and `late_minutes` of the rows
are the covering ledger rows of each entry. Text cells that a spreadsheet would run as a formula
(`=`, `+`, `-`, `@` first) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io

from ledger.hours.schemas import StatementRead, WorkEntryRead

COLUMNS = (
    "month",
    "worked_on",
    "ticket_ref",
    "level",
    "description",
    "kind",
    "minutes",
    "multiplier",
    "billable_minutes",
    "allotment_minutes",
    "overage_minutes",
    "on_demand_minutes",
    "late_minutes",
    "allotment_months",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def statement_csv(statement: StatementRead) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in statement.entries:
        writer.writerow(_row(statement.month, entry))
    return out.getvalue()


def _row(month: str, entry: WorkEntryRead) -> list[str | int]:
    by_source = {"allotment": 0, "overage": 0, "on_demand": 0, "late": 0}
    months: list[str] = []
    for part in entry.coverage:
        by_source[part.source] = by_source.get(part.source, 0) + part.minutes
        for covered in part.months or []:
            if part.source == "allotment" and covered not in months:
                months.append(covered)
    return [
        month,
        entry.worked_on.isoformat(),
        _text(entry.ticket_ref),
        entry.level,
        _text(entry.description),
        entry.kind,
        entry.minutes,
        entry.multiplier,
        entry.billable_minutes,
        by_source["allotment"],
        by_source["overage"],
        by_source["on_demand"],
        by_source["late"],
        " ".join(months),
    ]


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
