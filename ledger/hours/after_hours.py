"""Whether work started outside the plan's business hours (nights, weekends, holidays)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from ledger.catalog.models import Plan
from ledger.sla.calendar import BusinessCalendar
from ledger.sla.terms import business_hours


def is_after_hours(started_at: datetime, *, plan: Plan, timezone: str, holiday_region: str) -> bool:
    """Outside the plan's business hours in the contract's zone, or on a public holiday: the
    same calendar the response-time targets run on."""
    calendar = BusinessCalendar(timezone, holiday_region, business_hours(plan))
    return not calendar.is_business_time(started_at)


def multiplier_for(
    *, plan: Plan, level: int, started_at: datetime | None, timezone: str, holiday_region: str
) -> Decimal:
    """The plan's after-hours multiplier when it applies to this work, else 1.

    Work without a start time is counted as done in business hours."""
    if started_at is None or plan.after_hours_multiplier == 1:
        return Decimal(1)
    if level not in plan.after_hours_levels:
        return Decimal(1)
    if is_after_hours(started_at, plan=plan, timezone=timezone, holiday_region=holiday_region):
        return plan.after_hours_multiplier
    return Decimal(1)


def billable_minutes(minutes: int, *, multiplier: Decimal, increment: int) -> int:
    """Multiplier first, then round up to the billing increment (4 h 50 -> 5 h 00 at 15 min)."""
    weighted = Decimal(minutes) * multiplier
    increments = (weighted / increment).to_integral_value(rounding=ROUND_CEILING)
    return int(increments) * increment
