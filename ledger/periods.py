"""Billing periods (calendar months or quarters) and their instants in a contract's time zone.

A period is a half-open range of local dates [start, end). Its first instant is local midnight
of `start` and its last instant is just before local midnight of `end`, so a period's length in
minutes follows DST changes by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# SPEC "Units and money", bounds: every date or month a request names lies in this range, so
# period arithmetic on it never leaves the calendar (year 9999 + 1 month) and no request can make
# the service walk (or grant) thousands of periods.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


class OutOfBounds(ValueError):
    """A date or month outside FIRST_DAY..LAST_DAY."""


def check_day(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OutOfBounds(
            f"{day.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
        )
    return day


def check_instant(instant: datetime) -> datetime:
    """An instant whose date, at its own offset and in UTC, lies inside the bounds."""
    for day in (instant.date(), instant.astimezone(UTC).date() if instant.tzinfo else None):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise OutOfBounds(
                f"{instant.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
            )
    return instant


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # exclusive: the first day of the next period

    @property
    def label(self) -> str:
        """ "YYYY-MM" naming the period: a quarter is named by its LAST month (SPEC "Fees"),
        the month whose billing run invoices it."""
        return self.last_month

    @property
    def range_label(self) -> str:
        """The label, with the first and last day for a period longer than a month:
        "2026-06 (2026-04-01 – 2026-06-30)"."""
        if self.months == 1:
            return self.label
        last_day = date.fromordinal(self.end.toordinal() - 1)
        return f"{self.label} ({self.start.isoformat()} – {last_day.isoformat()})"

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    @property
    def last_month(self) -> str:
        return month_label(add_months(self.end, -1))

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def next(self) -> Period:
        return Period(self.end, add_months(self.end, self.months))

    def previous(self) -> Period:
        return Period(add_months(self.start, -self.months), self.start)


def add_months(day: date, months: int) -> date:
    """First-of-month arithmetic: only used on first days of months."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(value: str) -> date:
    """ "2026-02" -> date(2026, 2, 1). Raises ValueError with a readable message."""
    match = _MONTH.match(value or "")
    if not match:
        raise ValueError(f"{value!r} is not a month in the form YYYY-MM")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    if not FIRST_DAY <= first <= LAST_DAY:
        raise OutOfBounds(f"{value} is outside {month_label(FIRST_DAY)}..{month_label(LAST_DAY)}")
    return first


def month_period(first_day: date) -> Period:
    start = first_day.replace(day=1)
    return Period(start, add_months(start, 1))


def period_containing(day: date, kind: str) -> Period:
    """The calendar month or calendar quarter that contains `day`."""
    if kind == "month":
        return month_period(day)
    if kind == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return Period(start, add_months(start, 3))
    raise ValueError(f"unknown period kind {kind!r}")


@lru_cache(maxsize=8192, typed=True)
def local_midnight(day: date, timezone: str) -> datetime:
    """The first instant of `day` in `timezone`, as an aware UTC datetime.

    Memoised: a chunk's contracts share a few start dates and time zones, and the answer only
    depends on the tz database, which `zoneinfo` caches for the process as well."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def overlap_days(period: Period, first_day: date, last_day: date | None) -> int:
    """Days of `period` inside the inclusive range [first_day, last_day] (open end if None)."""
    start = max(period.start, first_day)
    end = (
        period.end
        if last_day is None
        else min(period.end, date.fromordinal(last_day.toordinal() + 1))
    )
    return max(0, (end - start).days)
