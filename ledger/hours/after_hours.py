"""Whether work started outside the plan's business hours (nights, weekends, holidays)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import ROUND_CEILING, Decimal
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from ledger.catalog.models import Plan
from ledger.validation import parse_holiday_region


@cache
def _holiday_calendar(region: str) -> holidays.HolidayBase:
    country, subdivision = parse_holiday_region(region)
    return holidays.country_holidays(country, subdiv=subdivision)


def is_after_hours(started_at: datetime, *, plan: Plan, timezone: str, holiday_region: str) -> bool:
    local = started_at.astimezone(ZoneInfo(timezone))
    hours = plan.business_hours
    start = time.fromisoformat(hours["start"])
    end = time.fromisoformat(hours["end"])
    if local.isoweekday() not in hours["weekdays"]:
        return True
    if local.date() in _holiday_calendar(holiday_region):
        return True
    return not (start <= local.time() < end)


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
