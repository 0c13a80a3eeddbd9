"""Properties of the SLA arithmetic, checked against an independent minute-by-minute oracle."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.sla.availability import (
    Incident,
    availability_ratio,
    downtime_seconds,
    minutes_in_month,
)
from ledger.sla.calendar import (
    BusinessCalendar,
    BusinessHours,
    TwentyFourSevenCalendar,
    merge_intervals,
)

PROPERTY = settings(deadline=None, database=None, max_examples=150)
ONE_SECOND = timedelta(seconds=1)
EVERY_DAY = frozenset(range(1, 8))


@dataclass(frozen=True)
class Setup:
    zone: str
    region: str | None
    hours: BusinessHours

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(self.zone, self.region, self.hours)


NINE_TO_SIX = [
    Setup("Europe/Berlin", "DE-BE", BusinessHours()),
    Setup("America/New_York", "US-NY", BusinessHours()),
    Setup("America/Sao_Paulo", "BR-SP", BusinessHours()),
    Setup("America/Los_Angeles", "US-CA", BusinessHours(time(8, 30), time(17, 15), EVERY_DAY)),
]
ALL_DAY = [
    Setup("Europe/Berlin", "DE-BE", BusinessHours(time(0), time(0), EVERY_DAY)),
    Setup("America/Sao_Paulo", "BR-SP", BusinessHours(time(0), time(0), EVERY_DAY)),
    Setup("America/New_York", None, BusinessHours(time(22), time(0), frozenset({6, 7}))),
]

# DST changes and long holidays, where mistakes would hide; plus anywhere in 2017-2030.
HOT_SPOTS = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2018, 11, 4, 3, tzinfo=UTC),
    datetime(2019, 2, 17, 2, tzinfo=UTC),
    datetime(2026, 12, 24, 16, tzinfo=UTC),
    datetime(2026, 12, 31, 16, tzinfo=UTC),
]
anywhere = st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC, microsecond=0)
)
near_hot_spot = st.builds(
    lambda spot, offset: spot + timedelta(seconds=offset),
    st.sampled_from(HOT_SPOTS),
    st.integers(min_value=-4 * 86_400, max_value=4 * 86_400),
)
instants = st.one_of(anywhere, near_hot_spot)
setups = st.sampled_from(NINE_TO_SIX + ALL_DAY)


@cache
def _holidays(region: str, year: int) -> frozenset[date]:
    country, _, subdivision = region.partition("-")
    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


def _holiday(setup: Setup, day: date) -> bool:
    return setup.region is not None and day in _holidays(setup.region, day.year)


def is_working_second(setup: Setup, instant: datetime) -> bool:
    """Independent of the implementation: read the wall clock at that very second."""
    local = instant.astimezone(ZoneInfo(setup.zone))
    if local.isoweekday() not in setup.hours.weekdays or _holiday(setup, local.date()):
        return False
    after_start = local.time() >= setup.hours.start
    before_end = setup.hours.end == time(0) or local.time() < setup.hours.end
    return after_start and before_end


@PROPERTY
@given(setup=setups, start=instants, minutes=st.integers(min_value=0, max_value=20_000))
def test_adding_then_counting_gives_back_the_minutes(
    setup: Setup, start: datetime, minutes: int
) -> None:
    calendar = setup.calendar()
    due = calendar.add_minutes(start, minutes)
    assert calendar.seconds_between(start, due) == minutes * 60
    assert calendar.minutes_between(start, due) == minutes
    if minutes > 0:
        # Earliest such instant: one second less is not enough.
        assert calendar.seconds_between(start, due - ONE_SECOND) == minutes * 60 - 1
        # The last second spent was a working second.
        assert is_working_second(setup, due - ONE_SECOND)


@PROPERTY
@given(
    setup=st.sampled_from(NINE_TO_SIX),
    start=instants,
    minutes=st.integers(min_value=1, max_value=20_000),
)
def test_due_time_is_inside_business_hours_on_a_business_day(
    setup: Setup, start: datetime, minutes: int
) -> None:
    due = setup.calendar().add_minutes(start, minutes)
    local = due.astimezone(ZoneInfo(setup.zone))
    assert local.isoweekday() in setup.hours.weekdays
    assert not _holiday(setup, local.date())
    assert setup.hours.start < local.time() <= setup.hours.end


@PROPERTY
@given(setup=setups, a=instants, b=instants, c=instants)
def test_counting_is_additive_over_a_split_point(
    setup: Setup, a: datetime, b: datetime, c: datetime
) -> None:
    first, middle, last = sorted((a, b, c))
    calendar = setup.calendar()
    whole = calendar.seconds_between(first, last)
    assert whole == calendar.seconds_between(first, middle) + calendar.seconds_between(middle, last)
    assert 0 <= whole <= (last - first) // ONE_SECOND


@settings(deadline=None, database=None, max_examples=60)
@given(
    setup=setups,
    start=instants.map(lambda t: t.replace(second=0)),
    span_minutes=st.integers(min_value=0, max_value=3 * 1440),
)
def test_counting_matches_a_minute_by_minute_oracle(
    setup: Setup, start: datetime, span_minutes: int
) -> None:
    end = start + timedelta(minutes=span_minutes)
    expected = sum(
        is_working_second(setup, start + timedelta(minutes=m)) for m in range(span_minutes)
    )
    assert setup.calendar().minutes_between(start, end) == expected


@PROPERTY
@given(start=instants, minutes=st.integers(min_value=0, max_value=10**6))
def test_twenty_four_seven_is_plain_elapsed_time(start: datetime, minutes: int) -> None:
    calendar = TwentyFourSevenCalendar()
    due = calendar.add_minutes(start, minutes)
    assert due - start == timedelta(minutes=minutes)
    assert calendar.minutes_between(start, due) == minutes


pause_lists = st.lists(
    st.tuples(instants, st.integers(min_value=0, max_value=5 * 86_400)), max_size=4
)


@PROPERTY
@given(
    setup=setups,
    start=instants,
    minutes=st.integers(min_value=1, max_value=5_000),
    raw_pauses=pause_lists,
)
def test_pauses_do_not_consume_the_target(
    setup: Setup, start: datetime, minutes: int, raw_pauses: list[tuple[datetime, int]]
) -> None:
    calendar = setup.calendar()
    pauses = [(s, s + timedelta(seconds=length)) for s, length in raw_pauses]
    due = calendar.add_minutes_with_pauses(start, minutes, pauses)
    assert due is not None
    assert due >= calendar.add_minutes(start, minutes)
    paused = sum(
        calendar.seconds_between(max(s, start), min(e, due))
        for s, e in merge_intervals(pauses)
        if min(e, due) > max(s, start)
    )
    assert calendar.seconds_between(start, due) - paused == minutes * 60


@PROPERTY
@given(
    setup=setups,
    start=instants,
    minutes=st.integers(min_value=1, max_value=5_000),
    pause_start=instants,
)
def test_open_pause_hides_the_due_time_only_if_it_begins_before_it(
    setup: Setup, start: datetime, minutes: int, pause_start: datetime
) -> None:
    calendar = setup.calendar()
    plain = calendar.add_minutes(start, minutes)
    due = calendar.add_minutes_with_pauses(start, minutes, [(pause_start, None)])
    if calendar.seconds_between(start, max(start, pause_start)) >= minutes * 60:
        assert due == plain
    else:
        assert due is None


months = st.tuples(st.integers(min_value=2017, max_value=2030), st.integers(1, 12))
incident_lists = st.lists(
    st.builds(
        lambda start, length, scheduled: Incident(
            start, None if length is None else start + timedelta(seconds=length), scheduled
        ),
        instants,
        st.one_of(st.none(), st.integers(min_value=0, max_value=40 * 86_400)),
        st.booleans(),
    ),
    max_size=6,
)


@PROPERTY
@given(
    month=months,
    zone=st.sampled_from(["Europe/Berlin", "America/Sao_Paulo", "UTC", "Pacific/Chatham"]),
    incidents=incident_lists,
    now=instants,
)
def test_availability_stays_between_zero_and_one(
    month: tuple[int, int], zone: str, incidents: list[Incident], now: datetime
) -> None:
    seconds = downtime_seconds(incidents, month=month, timezone=zone, now=now)
    month_minutes = minutes_in_month(*month, zone)
    availability = availability_ratio(downtime_seconds=seconds, month_minutes=month_minutes)
    assert 0 <= availability <= 1
    unscheduled = [i for i in incidents if not i.scheduled]
    assert seconds <= downtime_seconds(unscheduled, month=month, timezone=zone, now=now)
    if not unscheduled:
        assert seconds == 0


@PROPERTY
@given(incidents=incident_lists, now=instants, year=st.integers(2017, 2029))
def test_downtime_of_the_months_adds_up_to_the_whole(
    incidents: list[Incident], now: datetime, year: int
) -> None:
    # Twelve Berlin months split a year exactly: no second lost or counted twice at the seams.
    per_month = sum(
        downtime_seconds(incidents, month=(year, m), timezone="Europe/Berlin", now=now)
        for m in range(1, 13)
    )
    tz = ZoneInfo("Europe/Berlin")
    year_start = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    year_end = min(datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC), now)
    down = merge_intervals(
        (max(i.started_at, year_start), min(i.ended_at or now, year_end))
        for i in incidents
        if not i.scheduled
    )
    maintenance = merge_intervals(
        (max(i.started_at, year_start), min(i.ended_at or now, year_end))
        for i in incidents
        if i.scheduled
    )
    if not maintenance:
        assert per_month == sum((e - s) // ONE_SECOND for s, e in down)
    assert per_month <= sum((e - s) // ONE_SECOND for s, e in down)
