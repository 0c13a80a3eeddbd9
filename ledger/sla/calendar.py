"""Working-time calendars that SLA clocks run on.

Two kinds exist (SPEC "SLA: response times"): `24x7`, where every elapsed minute counts, and
`business`, where only the plan's business hours count, read as wall-clock time in the contract's
timezone and minus the public holidays of its holiday region. Instants go in and come out as aware
UTC datetimes; the local calendar is only consulted to find each day's business window, so DST
changes, weekends, holidays and year ends are handled by the same day-by-day walk.

Precision is whole seconds: incoming instants are truncated to the second, so that adding N
minutes and counting the minutes back always agree exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

CalendarKind = Literal["24x7", "business"]
CALENDAR_KINDS: Final[tuple[CalendarKind, ...]] = ("24x7", "business")

_MIDNIGHT: Final = time(0)
_ONE_DAY: Final = timedelta(days=1)
_ONE_SECOND: Final = timedelta(seconds=1)
# A calendar whose business days never come (every weekday a holiday) would loop forever.
_MAX_DAYS_WITHOUT_WINDOW: Final = 800


class UnknownHolidayRegion(ValueError):
    """The code is not a country (and subdivision) the `holidays` package knows."""


class UnknownTimezone(ValueError):
    """The name is not an IANA timezone known to zoneinfo."""


class NoBusinessHours(ValueError):
    """The calendar has no business window for so long that a due time cannot exist."""


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours on business days, as local wall-clock times.

    `end == time(0)` means midnight at the end of the day (24:00), so a "24/5" plan can be written
    as `BusinessHours(start=time(0), end=time(0))`.
    """

    start: time = time(9, 0)
    end: time = time(18, 0)
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset({1, 2, 3, 4, 5}))

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("business hours are local wall-clock times, without a timezone")
        if self.end != _MIDNIGHT and self.end <= self.start:
            raise ValueError(f"business hours end ({self.end}) must be after start ({self.start})")
        if not self.weekdays:
            raise ValueError("business hours need at least one weekday")
        if not all(isinstance(d, int) and 1 <= d <= 7 for d in self.weekdays):
            raise ValueError("weekdays are ISO numbers, 1 (Monday) to 7 (Sunday)")


DEFAULT_BUSINESS_HOURS: Final = BusinessHours()


@lru_cache(maxsize=1)
def _supported_regions() -> dict[str, tuple[str, ...]]:
    supported = holidays.list_supported_countries(include_aliases=False)
    return {country: tuple(subdivisions) for country, subdivisions in supported.items()}


def parse_holiday_region(code: str) -> tuple[str, str | None]:
    """Split "DE-BE" into ("DE", "BE"), refusing what the `holidays` package cannot look up.

    Matching is case-insensitive; the canonical spelling of the package is returned.
    """
    if not isinstance(code, str) or not code.strip():
        raise UnknownHolidayRegion(f"{code!r} is not a holiday region (expected e.g. 'DE-BE')")
    country, sep, subdivision = code.strip().partition("-")
    country = country.upper()
    supported = _supported_regions()
    if country not in supported:
        raise UnknownHolidayRegion(f"{code!r}: country {country!r} has no holiday calendar")
    if not sep:
        return country, None
    for known in supported[country]:
        if known.upper() == subdivision.upper():
            return country, known
    raise UnknownHolidayRegion(
        f"{code!r}: {country} has no subdivision {subdivision!r} "
        f"(known: {', '.join(supported[country]) or 'none'})"
    )


def is_known_holiday_region(code: str) -> bool:
    try:
        parse_holiday_region(code)
    except UnknownHolidayRegion:
        return False
    return True


@lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """One year of public holidays; cached because every SLA computation asks for the same years."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def load_timezone(name: str | ZoneInfo) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezone(f"{name!r} is not an IANA timezone") from exc


def as_utc(instant: datetime) -> datetime:
    """Aware UTC, truncated to the whole second; naive datetimes are refused, never guessed."""
    if not isinstance(instant, datetime):
        raise TypeError(f"expected a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} is naive; SLA instants must carry a UTC offset")
    return instant.astimezone(UTC).replace(microsecond=0)


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a naive local wall-clock time denotes.

    A time repeated by a DST fall-back means its first occurrence; a time skipped by a
    spring-forward means the transition itself (the first instant at or after it), so a business
    window opening in a gap opens when the clocks jump.
    """
    guess = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if guess.astimezone(tz).replace(tzinfo=None) == wall:
        return guess
    # In a gap: fold=1 lands before the transition, fold=0 after it. Bisect on whole seconds for
    # the first instant whose wall clock has reached `wall`.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    below, above = 0, _seconds(guess - low)
    while above - below > 1:
        middle = (below + above) // 2
        if (low + timedelta(seconds=middle)).astimezone(tz).replace(tzinfo=None) >= wall:
            above = middle
        else:
            below = middle
    return low + timedelta(seconds=above)


def _check_minutes(minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise TypeError(f"minutes must be a whole number, got {minutes!r}")
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, got {minutes}")


def _seconds(span: timedelta) -> int:
    return span // _ONE_SECOND


def merge_intervals(
    intervals: Iterable[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    """Sorted, non-overlapping, non-touching union of half-open [start, end) intervals."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class WorkCalendar(ABC):
    """Counts working time between instants and finds the instant a working-time budget runs out."""

    kind: CalendarKind

    @abstractmethod
    def add_seconds(self, start: datetime, seconds: int) -> datetime:
        """The instant at which `seconds` of working time counted from `start` are used up."""

    @abstractmethod
    def seconds_between(self, start: datetime, end: datetime) -> int:
        """Working seconds in [start, end)."""

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant at which `minutes` working minutes counted from `start` are used up.

        Zero minutes give `start` itself. A budget that runs out exactly at closing time is due at
        closing time, not at the next opening.
        """
        _check_minutes(minutes)
        return self.add_seconds(start, minutes * 60)

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole working minutes in [start, end), rounded down: a started minute is no minute."""
        return self.seconds_between(start, end) // 60

    def add_minutes_with_pauses(
        self,
        start: datetime,
        minutes: int,
        pauses: Sequence[tuple[datetime, datetime | None]] = (),
    ) -> datetime | None:
        """Like `add_minutes`, but working time inside the pauses is not spent.

        Overlapping pauses count once; pause time before `start` is irrelevant. A pause without an
        end stops the clock from its start on: if the budget is not used up before an open pause
        begins, the due time does not exist yet and None is returned.
        """
        _check_minutes(minutes)
        cursor = as_utc(start)
        remaining = minutes * 60
        if remaining == 0:
            return cursor
        open_from: datetime | None = None
        closed: list[tuple[datetime, datetime]] = []
        for pause_start, pause_end in pauses:
            begins = as_utc(pause_start)
            if pause_end is None:
                open_from = begins if open_from is None else min(open_from, begins)
                continue
            ends = as_utc(pause_end)
            if ends < begins:
                raise ValueError(f"pause ends ({ends}) before it starts ({begins})")
            closed.append((begins, ends))
        stops = merge_intervals(closed)
        if open_from is not None:
            # The open pause absorbs a closed pause overlapping its start and every later one.
            before_open: list[tuple[datetime, datetime]] = []
            for pause_start, pause_end in stops:
                if pause_end < open_from:
                    before_open.append((pause_start, pause_end))
                elif pause_start < open_from:
                    open_from = pause_start
            stops = before_open
        for pause_start, pause_end in stops:
            if pause_end <= cursor:
                continue
            working = self.seconds_between(cursor, max(cursor, pause_start))
            if remaining <= working:
                return self.add_seconds(cursor, remaining)
            remaining -= working
            cursor = pause_end
        if open_from is not None:
            working = self.seconds_between(cursor, max(cursor, open_from))
            if remaining > working:
                return None
        return self.add_seconds(cursor, remaining)


class TwentyFourSevenCalendar(WorkCalendar):
    """Every elapsed second counts, whatever the clocks on the wall say."""

    kind: CalendarKind = "24x7"

    def add_seconds(self, start: datetime, seconds: int) -> datetime:
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        return as_utc(start) + timedelta(seconds=seconds)

    def seconds_between(self, start: datetime, end: datetime) -> int:
        begins, ends = as_utc(start), as_utc(end)
        if ends < begins:
            raise ValueError(f"end ({ends}) is before start ({begins})")
        return _seconds(ends - begins)

    def __repr__(self) -> str:
        return "TwentyFourSevenCalendar()"


class BusinessCalendar(WorkCalendar):
    """Business hours in a timezone, minus the public holidays of a holiday region.

    Walks the local calendar one day at a time and consumes whole business windows at once, so
    the cost grows with the number of calendar days spanned, never with the number of minutes.
    """

    kind: CalendarKind = "business"

    def __init__(
        self,
        timezone: str | ZoneInfo,
        holiday_region: str | None = None,
        hours: BusinessHours = DEFAULT_BUSINESS_HOURS,
    ) -> None:
        self.timezone = load_timezone(timezone)
        self.holiday_region = holiday_region
        self.hours = hours
        self._region = parse_holiday_region(holiday_region) if holiday_region else None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.timezone.key!r}, {self.holiday_region!r}, {self.hours!r})"

    def is_holiday(self, day: date) -> bool:
        if self._region is None:
            return False
        country, subdivision = self._region
        return day in _holiday_dates(country, subdivision, day.year)

    def is_business_day(self, day: date) -> bool:
        return day.isoweekday() in self.hours.weekdays and not self.is_holiday(day)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC instants a local business day opens and closes, or None on a day off."""
        if not self.is_business_day(day):
            return None
        opens = local_to_utc(datetime.combine(day, self.hours.start), self.timezone)
        if self.hours.end == _MIDNIGHT:
            closes = local_to_utc(datetime.combine(day + _ONE_DAY, _MIDNIGHT), self.timezone)
        else:
            closes = local_to_utc(datetime.combine(day, self.hours.end), self.timezone)
        return opens, closes

    def is_business_time(self, instant: datetime) -> bool:
        """Whether the instant falls inside business hours (e.g. for after-hours multipliers)."""
        moment = as_utc(instant)
        day = moment.astimezone(self.timezone).date()
        window = self.window(day)
        return window is not None and window[0] <= moment < window[1]

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()

    def add_seconds(self, start: datetime, seconds: int) -> datetime:
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        cursor = as_utc(start)
        if seconds == 0:
            return cursor
        remaining = seconds
        day = self._local_date(cursor)
        days_without_window = 0
        while True:
            window = self.window(day)
            if window is not None and window[1] > cursor:
                days_without_window = 0
                begins = max(window[0], cursor)
                available = _seconds(window[1] - begins)
                if remaining <= available:
                    return begins + timedelta(seconds=remaining)
                remaining -= available
            else:
                days_without_window += 1
                if days_without_window > _MAX_DAYS_WITHOUT_WINDOW:
                    raise NoBusinessHours(f"{self!r} has no business hours after {day}")
            day += _ONE_DAY

    def seconds_between(self, start: datetime, end: datetime) -> int:
        begins, ends = as_utc(start), as_utc(end)
        if ends < begins:
            raise ValueError(f"end ({ends}) is before start ({begins})")
        total = 0
        day, last_day = self._local_date(begins), self._local_date(ends)
        while day <= last_day:
            window = self.window(day)
            if window is not None:
                overlap_start, overlap_end = max(window[0], begins), min(window[1], ends)
                if overlap_start < overlap_end:
                    total += _seconds(overlap_end - overlap_start)
            day += _ONE_DAY
        return total


def make_calendar(
    kind: CalendarKind,
    *,
    timezone: str | ZoneInfo,
    holiday_region: str | None = None,
    business_hours: BusinessHours = DEFAULT_BUSINESS_HOURS,
) -> WorkCalendar:
    """The calendar a response target names, set up with the contract's timezone and region."""
    if kind == "24x7":
        return TwentyFourSevenCalendar()
    if kind == "business":
        return BusinessCalendar(timezone, holiday_region, business_hours)
    raise ValueError(f"unknown calendar {kind!r} (expected one of {', '.join(CALENDAR_KINDS)})")
