"""The stretch of time a contract covers, for the SLA records that belong to it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ledger.contracts.models import Contract
from ledger.errors import InvalidInput
from ledger.periods import local_date, local_midnight, month_label, month_period, overlap_days


def covered_instants(contract: Contract) -> tuple[datetime, datetime | None]:
    """[local midnight of the start date, local midnight after the end date), as UTC."""
    start = local_midnight(contract.start_date, contract.timezone)
    if contract.end_date is None:
        return start, None
    return start, local_midnight(contract.end_date + timedelta(days=1), contract.timezone)


def check_month_covered(contract: Contract, month_first_day: date) -> None:
    """A report for a month the contract never touches would show made-up perfect figures."""
    if overlap_days(month_period(month_first_day), contract.start_date, contract.end_date) == 0:
        until = f" to {contract.end_date}" if contract.end_date else ""
        raise InvalidInput(
            f"contract {contract.id} does not cover {month_label(month_first_day)} "
            f"(it runs from {contract.start_date}{until})",
            field="month",
        )


def check_instant_covered(contract: Contract, instant: datetime, *, field: str) -> None:
    day = local_date(instant, contract.timezone)
    if day < contract.start_date or (contract.end_date is not None and day > contract.end_date):
        until = f" to {contract.end_date}" if contract.end_date else ""
        raise InvalidInput(
            f"{instant.isoformat()} is outside contract {contract.id} "
            f"(it runs from {contract.start_date}{until} in {contract.timezone})",
            field=field,
        )
