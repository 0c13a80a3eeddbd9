import time as perf
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ledger.sla.calendar import (
    BusinessCalendar,
    BusinessHours,
    NoBusinessHours,
    TwentyFourSevenCalendar,
    UnknownHolidayRegion,
    UnknownTimezone,
    is_known_holiday_region,
    local_to_utc,
    make_calendar,
    merge_intervals,
    parse_holiday_region,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
EVERY_DAY_ALL_DAY = BusinessHours(
    start=time(0), end=time(0), weekdays=frozenset({1, 2, 3, 4, 5, 6, 7})
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def berlin_calendar() -> BusinessCalendar:
    return BusinessCalendar("Europe/Berlin", "DE-BE")


# --- holiday regions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("DE-BE", ("DE", "BE")),
        ("BR-SP", ("BR", "SP")),
        ("US-CA", ("US", "CA")),
        ("DE", ("DE", None)),
        ("de-be", ("DE", "BE")),
        (" US-ca ", ("US", "CA")),
    ],
)
def test_parse_holiday_region(code: str, expected: tuple[str, str | None]) -> None:
    assert parse_holiday_region(code) == expected
    assert is_known_holiday_region(code) is True


@pytest.mark.parametrize("code", ["XX", "DE-XX", "US-", "", "  ", "UK-ENG", "BR-ZZ"])
def test_unknown_holiday_regions_are_refused(code: str) -> None:
    assert is_known_holiday_region(code) is False
    with pytest.raises(UnknownHolidayRegion):
        parse_holiday_region(code)


def test_calendar_refuses_unknown_region_and_timezone() -> None:
    with pytest.raises(UnknownHolidayRegion):
        BusinessCalendar("Europe/Berlin", "DE-XX")
    with pytest.raises(UnknownTimezone):
        BusinessCalendar("Europe/Atlantis", "DE-BE")


# --- business hours -------------------------------------------------------------------------------


def test_business_hours_defaults() -> None:
    hours = BusinessHours()
    assert (hours.start, hours.end, hours.weekdays) == (
        time(9),
        time(18),
        frozenset({1, 2, 3, 4, 5}),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": time(18), "end": time(9)},
        {"start": time(9), "end": time(9)},
        {"weekdays": frozenset()},
        {"weekdays": frozenset({0, 1})},
        {"weekdays": frozenset({8})},
        {"start": time(9, tzinfo=UTC)},
    ],
)
def test_business_hours_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BusinessHours(**kwargs)  # type: ignore[arg-type]


# --- holidays -------------------------------------------------------------------------------------


def test_de_be_holidays_include_berlin_only_womens_day() -> None:
    berlin = BusinessCalendar("Europe/Berlin", "DE-BE")
    bavaria = BusinessCalendar("Europe/Berlin", "DE-BY")
    germany = BusinessCalendar("Europe/Berlin", "DE")
    womens_day = date(2027, 3, 8)  # a Monday, public holiday only in Berlin (and MV)
    assert berlin.is_business_day(womens_day) is False
    assert bavaria.is_business_day(womens_day) is True
    assert germany.is_business_day(womens_day) is True
    assert berlin.is_business_day(date(2026, 12, 25)) is False
    assert berlin.is_business_day(date(2026, 12, 24)) is True
    assert berlin.is_business_day(date(2026, 10, 3)) is False  # Saturday anyway
    assert berlin.is_holiday(date(2026, 10, 3)) is True


def test_br_sp_holidays_include_constitutionalist_revolution() -> None:
    sao_paulo = BusinessCalendar("America/Sao_Paulo", "BR-SP")
    rio = BusinessCalendar("America/Sao_Paulo", "BR-RJ")
    revolution = date(2026, 7, 9)  # Thursday, Sao Paulo state only
    assert sao_paulo.is_business_day(revolution) is False
    assert rio.is_business_day(revolution) is True
    assert sao_paulo.is_business_day(date(2026, 4, 21)) is False  # Tiradentes, national
    # Thursday 17:00 + 2 business hours: Friday 10 July is a normal day.
    due = sao_paulo.add_minutes(datetime(2026, 7, 8, 17, tzinfo=SAO_PAULO), 120)
    assert due == datetime(2026, 7, 10, 10, tzinfo=SAO_PAULO)
    assert due == utc(2026, 7, 10, 13)


def test_us_ca_holidays_include_cesar_chavez_day() -> None:
    california = BusinessCalendar("America/Los_Angeles", "US-CA")
    new_york = BusinessCalendar("America/New_York", "US-NY")
    assert california.is_business_day(date(2026, 3, 31)) is False  # Cesar Chavez Day, Tuesday
    assert new_york.is_business_day(date(2026, 3, 31)) is True
    assert new_york.is_business_day(date(2026, 11, 27)) is True
    assert california.is_business_day(date(2026, 11, 27)) is False  # day after Thanksgiving
    assert california.is_business_day(date(2026, 7, 3)) is False  # Independence Day observed
    # Monday 30 March 17:30 + 60 min: 30 min Monday, Tuesday off, 30 min Wednesday.
    due = california.add_minutes(datetime(2026, 3, 30, 17, 30, tzinfo=LOS_ANGELES), 60)
    assert due == datetime(2026, 4, 1, 9, 30, tzinfo=LOS_ANGELES)
    assert due == utc(2026, 4, 1, 16, 30)


def test_no_holiday_region_means_only_weekends_are_off() -> None:
    calendar = BusinessCalendar("Europe/Berlin", None)
    assert calendar.is_business_day(date(2026, 12, 25)) is True
    assert calendar.is_business_day(date(2026, 12, 26)) is False  # Saturday


# --- add_minutes ----------------------------------------------------------------------------------


def test_inside_business_hours_same_day() -> None:
    due = berlin_calendar().add_minutes(datetime(2026, 6, 15, 10, 15, tzinfo=BERLIN), 90)
    assert due == utc(2026, 6, 15, 9, 45)  # 11:45 CEST


def test_budget_used_up_at_closing_time_is_due_at_closing_time() -> None:
    friday_five = datetime(2026, 6, 12, 17, tzinfo=BERLIN)
    due = berlin_calendar().add_minutes(friday_five, 60)
    assert due == datetime(2026, 6, 12, 18, tzinfo=BERLIN)
    assert berlin_calendar().add_minutes(friday_five, 61) == datetime(
        2026, 6, 15, 9, 1, tzinfo=BERLIN
    )


def test_start_outside_hours_counts_from_next_opening() -> None:
    calendar = berlin_calendar()
    saturday_noon = datetime(2026, 6, 13, 12, tzinfo=BERLIN)
    assert calendar.add_minutes(saturday_noon, 30) == datetime(2026, 6, 15, 9, 30, tzinfo=BERLIN)
    early_monday = datetime(2026, 6, 15, 7, tzinfo=BERLIN)
    assert calendar.add_minutes(early_monday, 30) == datetime(2026, 6, 15, 9, 30, tzinfo=BERLIN)
    monday_evening = datetime(2026, 6, 15, 18, tzinfo=BERLIN)
    assert calendar.add_minutes(monday_evening, 1) == datetime(2026, 6, 16, 9, 1, tzinfo=BERLIN)


def test_zero_minutes_is_the_start_itself() -> None:
    saturday = datetime(2026, 6, 13, 12, tzinfo=BERLIN)
    assert berlin_calendar().add_minutes(saturday, 0) == saturday
    assert TwentyFourSevenCalendar().add_minutes(saturday, 0) == saturday


def test_due_over_a_weekend() -> None:
    friday = datetime(2026, 6, 12, 16, 30, tzinfo=BERLIN)
    due = berlin_calendar().add_minutes(friday, 180)
    assert due == utc(2026, 6, 15, 8, 30)  # Monday 10:30 CEST


def test_due_over_new_year() -> None:
    # 120 min on Thu 31 Dec, 1 Jan holiday, weekend, 540 Mon + 540 Tue, 240 min Wed 6 Jan.
    new_years_eve = datetime(2026, 12, 31, 16, tzinfo=BERLIN)
    due = berlin_calendar().add_minutes(new_years_eve, 24 * 60)
    assert due == utc(2027, 1, 6, 12)  # Wednesday 13:00 CET


def test_seconds_in_the_start_are_kept() -> None:
    start = datetime(2026, 6, 15, 17, 59, 30, tzinfo=BERLIN)
    due = berlin_calendar().add_minutes(start, 1)
    assert due == datetime(2026, 6, 16, 9, 0, 30, tzinfo=BERLIN)


def test_microseconds_are_truncated_to_whole_seconds() -> None:
    start = datetime(2026, 6, 15, 10, 0, 0, 999_999, tzinfo=BERLIN)
    assert berlin_calendar().add_minutes(start, 1) == datetime(2026, 6, 15, 10, 1, tzinfo=BERLIN)
    assert TwentyFourSevenCalendar().add_minutes(start, 1) == datetime(
        2026, 6, 15, 10, 1, tzinfo=BERLIN
    )


def test_result_is_utc() -> None:
    due = berlin_calendar().add_minutes(datetime(2026, 6, 15, 10, tzinfo=BERLIN), 5)
    assert due.tzinfo is UTC


def test_naive_and_negative_inputs_are_refused() -> None:
    calendar = berlin_calendar()
    with pytest.raises(ValueError, match="naive"):
        calendar.add_minutes(datetime(2026, 6, 15, 10), 5)
    with pytest.raises(ValueError, match="negative"):
        calendar.add_minutes(utc(2026, 6, 15, 10), -1)
    with pytest.raises(TypeError):
        calendar.add_minutes(utc(2026, 6, 15, 10), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before start"):
        calendar.minutes_between(utc(2026, 6, 15, 10), utc(2026, 6, 15, 9))


def test_long_holiday_period_is_walked_fast() -> None:
    # A calendar open only on Mondays, across ten years of Easter Mondays and Whit Mondays.
    mondays = BusinessCalendar("Europe/Berlin", "DE-BE", BusinessHours(weekdays=frozenset({1})))
    started = perf.perf_counter()
    due = mondays.add_minutes(utc(2026, 1, 1), 540 * 500)
    elapsed = perf.perf_counter() - started
    assert mondays.minutes_between(utc(2026, 1, 1), due) == 540 * 500
    assert due.astimezone(BERLIN).time() == time(18)
    assert elapsed < 1.0


def test_calendar_with_no_reachable_business_day_fails_instead_of_looping() -> None:
    # No real region makes every day a holiday, so fake one.
    class AlwaysHoliday(BusinessCalendar):
        def is_holiday(self, day: date) -> bool:
            return True

    with pytest.raises(NoBusinessHours):
        AlwaysHoliday("Europe/Berlin").add_minutes(utc(2026, 1, 1), 1)


# --- DST ------------------------------------------------------------------------------------------


def test_berlin_spring_forward_weekend_friday_to_monday() -> None:
    # Fri 27 Mar 17:00 CET (16:00 UTC); clocks jump on Sunday 29 March.
    due = berlin_calendar().add_minutes(datetime(2026, 3, 27, 17, tzinfo=BERLIN), 120)
    assert due == datetime(2026, 3, 30, 10, tzinfo=BERLIN)
    assert due == utc(2026, 3, 30, 8)  # 10:00 CEST, not 09:00 as naive UTC arithmetic would say


def test_berlin_fall_back_weekend_friday_to_monday() -> None:
    due = berlin_calendar().add_minutes(datetime(2026, 10, 23, 17, tzinfo=BERLIN), 120)
    assert due == utc(2026, 10, 26, 9)  # Monday 10:00 CET


def test_new_york_spring_forward() -> None:
    calendar = BusinessCalendar("America/New_York", "US-NY")
    due = calendar.add_minutes(datetime(2026, 3, 6, 17, tzinfo=NEW_YORK), 120)
    assert due == utc(2026, 3, 9, 14)  # Monday 10:00 EDT


def test_business_day_on_a_dst_date_still_runs_nine_to_six_local() -> None:
    every_day = BusinessCalendar(
        "Europe/Berlin", "DE-BE", BusinessHours(weekdays=frozenset(range(1, 8)))
    )
    sunday_spring = date(2026, 3, 29)
    assert every_day.window(sunday_spring) == (utc(2026, 3, 29, 7), utc(2026, 3, 29, 16))
    due = every_day.add_minutes(datetime(2026, 3, 28, 17, tzinfo=BERLIN), 120)
    assert due == utc(2026, 3, 29, 8)  # Sunday 10:00 CEST
    sunday_autumn = date(2026, 10, 25)
    assert every_day.minutes_between(utc(2026, 10, 24), utc(2026, 10, 27)) == 3 * 540
    assert every_day.window(sunday_autumn) == (utc(2026, 10, 25, 8), utc(2026, 10, 25, 17))


@pytest.mark.parametrize(
    ("zone", "day", "minutes"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23 * 60),
        ("Europe/Berlin", date(2026, 10, 25), 25 * 60),
        ("Europe/Berlin", date(2026, 6, 1), 24 * 60),
        ("America/New_York", date(2026, 3, 8), 23 * 60),
        ("America/New_York", date(2026, 11, 1), 25 * 60),
        # Sao Paulo's historical DST changed at midnight: 00:00 did not exist on 4 Nov 2018.
        ("America/Sao_Paulo", date(2018, 11, 3), 24 * 60),
        ("America/Sao_Paulo", date(2018, 11, 4), 23 * 60),
        ("America/Sao_Paulo", date(2019, 2, 16), 25 * 60),
        ("America/Sao_Paulo", date(2019, 2, 17), 24 * 60),
    ],
)
def test_all_day_calendar_counts_wall_clock_days(zone: str, day: date, minutes: int) -> None:
    calendar = BusinessCalendar(zone, None, EVERY_DAY_ALL_DAY)
    window = calendar.window(day)
    assert window is not None
    assert calendar.minutes_between(*window) == minutes
    assert calendar.add_minutes(window[0], minutes) == window[1]


def test_sao_paulo_dst_start_and_all_souls_day() -> None:
    calendar = BusinessCalendar("America/Sao_Paulo", "BR-SP")
    # Thu 1 Nov 2018 17:00 (-03): 1 h Thursday; Fri 2 Nov All Souls' Day; weekend with the DST
    # switch at midnight on Sunday; Monday 10:00 is now -02.
    due = calendar.add_minutes(datetime(2018, 11, 1, 17, tzinfo=SAO_PAULO), 120)
    assert due == utc(2018, 11, 5, 12)


def test_local_to_utc_gaps_and_repeats() -> None:
    # Skipped wall times map to the moment the clocks jump.
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1)
    assert local_to_utc(datetime(2018, 11, 4, 0, 0), SAO_PAULO) == utc(2018, 11, 4, 3)
    assert local_to_utc(datetime(2026, 3, 8, 2, 0), NEW_YORK) == utc(2026, 3, 8, 7)
    # Repeated wall times map to their first occurrence.
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    # Ordinary times.
    assert local_to_utc(datetime(2026, 7, 1, 9), BERLIN) == utc(2026, 7, 1, 7)


def test_business_window_opening_in_a_gap_opens_at_the_jump() -> None:
    hours = BusinessHours(start=time(2, 30), end=time(4), weekdays=frozenset({7}))
    calendar = BusinessCalendar("Europe/Berlin", None, hours)
    # 29 March 2026: 02:30 does not exist; the window is 03:00-04:00 CEST = 01:00-02:00 UTC.
    assert calendar.window(date(2026, 3, 29)) == (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))


# --- minutes_between ------------------------------------------------------------------------------


def test_minutes_between_over_a_week_with_a_holiday() -> None:
    # Mon 4 May 2026 to Mon 11 May: five days, 1 May was the Friday before; no holiday inside.
    calendar = berlin_calendar()
    assert calendar.minutes_between(utc(2026, 5, 4), utc(2026, 5, 11)) == 5 * 540
    # Ascension Day, Thursday 14 May 2026.
    assert calendar.minutes_between(utc(2026, 5, 11), utc(2026, 5, 18)) == 4 * 540


def test_minutes_between_partial_days_and_rounding_down() -> None:
    calendar = berlin_calendar()
    start = datetime(2026, 6, 15, 17, 30, 20, tzinfo=BERLIN)
    end = datetime(2026, 6, 16, 9, 10, 10, tzinfo=BERLIN)
    # 29 min 40 s Monday + 10 min 10 s Tuesday = 39 min 50 s.
    assert calendar.seconds_between(start, end) == 39 * 60 + 50
    assert calendar.minutes_between(start, end) == 39


def test_twenty_four_seven_counts_real_minutes_across_dst() -> None:
    calendar = TwentyFourSevenCalendar()
    start = datetime(2026, 3, 29, 1, 50, tzinfo=BERLIN)
    assert calendar.add_minutes(start, 20) == datetime(2026, 3, 29, 3, 10, tzinfo=BERLIN)
    assert calendar.minutes_between(utc(2026, 3, 28, 23), utc(2026, 3, 29, 23)) == 1440
    assert calendar.seconds_between(utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 59)) == 59


# --- pauses ---------------------------------------------------------------------------------------


def test_pause_inside_business_hours_moves_due_time() -> None:
    calendar = berlin_calendar()
    opened = datetime(2026, 6, 15, 9, tzinfo=BERLIN)
    pause = (datetime(2026, 6, 15, 10, tzinfo=BERLIN), datetime(2026, 6, 15, 12, tzinfo=BERLIN))
    assert calendar.add_minutes_with_pauses(opened, 360, []) == datetime(
        2026, 6, 15, 15, tzinfo=BERLIN
    )
    assert calendar.add_minutes_with_pauses(opened, 360, [pause]) == datetime(
        2026, 6, 15, 17, tzinfo=BERLIN
    )


def test_overlapping_pauses_count_once() -> None:
    calendar = berlin_calendar()
    opened = datetime(2026, 6, 15, 9, tzinfo=BERLIN)
    pauses = [
        (datetime(2026, 6, 15, 11, tzinfo=BERLIN), datetime(2026, 6, 15, 12, tzinfo=BERLIN)),
        (datetime(2026, 6, 15, 10, tzinfo=BERLIN), datetime(2026, 6, 15, 11, 30, tzinfo=BERLIN)),
    ]
    assert calendar.add_minutes_with_pauses(opened, 360, pauses) == datetime(
        2026, 6, 15, 17, tzinfo=BERLIN
    )


def test_pause_outside_business_hours_changes_nothing() -> None:
    calendar = berlin_calendar()
    opened = datetime(2026, 6, 12, 17, tzinfo=BERLIN)
    weekend = (datetime(2026, 6, 12, 18, tzinfo=BERLIN), datetime(2026, 6, 15, 9, tzinfo=BERLIN))
    assert calendar.add_minutes_with_pauses(opened, 120, [weekend]) == datetime(
        2026, 6, 15, 10, tzinfo=BERLIN
    )


def test_pause_before_opening_is_ignored_and_straddling_pause_is_clipped() -> None:
    calendar = berlin_calendar()
    opened = datetime(2026, 6, 15, 10, tzinfo=BERLIN)
    earlier = (datetime(2026, 6, 15, 9, tzinfo=BERLIN), datetime(2026, 6, 15, 9, 30, tzinfo=BERLIN))
    straddling = (
        datetime(2026, 6, 15, 9, 30, tzinfo=BERLIN),
        datetime(2026, 6, 15, 11, tzinfo=BERLIN),
    )
    assert calendar.add_minutes_with_pauses(opened, 60, [earlier]) == datetime(
        2026, 6, 15, 11, tzinfo=BERLIN
    )
    assert calendar.add_minutes_with_pauses(opened, 60, [straddling]) == datetime(
        2026, 6, 15, 12, tzinfo=BERLIN
    )


def test_open_pause_stops_the_clock() -> None:
    calendar = berlin_calendar()
    opened = datetime(2026, 6, 15, 9, tzinfo=BERLIN)
    open_pause = (datetime(2026, 6, 15, 10, tzinfo=BERLIN), None)
    assert calendar.add_minutes_with_pauses(opened, 360, [open_pause]) is None
    # An open pause that starts after the budget ran out does not hide the due time.
    late_pause = (datetime(2026, 6, 15, 16, tzinfo=BERLIN), None)
    assert calendar.add_minutes_with_pauses(opened, 360, [late_pause]) == datetime(
        2026, 6, 15, 15, tzinfo=BERLIN
    )
    # Budget used up exactly when the open pause begins: due then.
    at_due = (datetime(2026, 6, 15, 15, tzinfo=BERLIN), None)
    assert calendar.add_minutes_with_pauses(opened, 360, [at_due]) == datetime(
        2026, 6, 15, 15, tzinfo=BERLIN
    )


def test_open_pause_absorbs_an_overlapping_closed_pause() -> None:
    calendar = berlin_calendar()
    opened = datetime(2026, 6, 15, 9, tzinfo=BERLIN)
    pauses: list[tuple[datetime, datetime | None]] = [
        (datetime(2026, 6, 15, 10, tzinfo=BERLIN), datetime(2026, 6, 15, 13, tzinfo=BERLIN)),
        (datetime(2026, 6, 15, 12, tzinfo=BERLIN), None),
    ]
    # Only 09:00-10:00 counts: 60 minutes fit, 61 do not.
    assert calendar.add_minutes_with_pauses(opened, 60, pauses) == datetime(
        2026, 6, 15, 10, tzinfo=BERLIN
    )
    assert calendar.add_minutes_with_pauses(opened, 61, pauses) is None


def test_pause_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        berlin_calendar().add_minutes_with_pauses(
            utc(2026, 6, 15, 8), 60, [(utc(2026, 6, 15, 10), utc(2026, 6, 15, 9))]
        )


def test_pauses_on_twenty_four_seven() -> None:
    calendar = TwentyFourSevenCalendar()
    pauses = [(utc(2026, 6, 15, 10, 5), utc(2026, 6, 15, 10, 35))]
    assert calendar.add_minutes_with_pauses(utc(2026, 6, 15, 10), 20, pauses) == utc(
        2026, 6, 15, 10, 50
    )


# --- helpers --------------------------------------------------------------------------------------


def test_merge_intervals() -> None:
    a, b, c, d, e = (utc(2026, 1, 1, hour) for hour in (1, 2, 3, 4, 5))
    assert merge_intervals([(c, d), (a, b), (b, c), (e, e)]) == [(a, d)]
    assert merge_intervals([(a, b), (c, e), (d, e)]) == [(a, b), (c, e)]
    assert merge_intervals([(a, e), (b, c)]) == [(a, e)]


def test_make_calendar() -> None:
    assert isinstance(make_calendar("24x7", timezone="Europe/Berlin"), TwentyFourSevenCalendar)
    business = make_calendar("business", timezone="Europe/Berlin", holiday_region="DE-BE")
    assert isinstance(business, BusinessCalendar)
    assert business.timezone == BERLIN
    assert business.hours == BusinessHours()
    with pytest.raises(ValueError, match="unknown calendar"):
        make_calendar("weekdays", timezone="Europe/Berlin")  # type: ignore[arg-type]


def test_is_business_time() -> None:
    calendar = berlin_calendar()
    assert calendar.is_business_time(datetime(2026, 6, 15, 9, tzinfo=BERLIN)) is True
    assert calendar.is_business_time(datetime(2026, 6, 15, 17, 59, 59, tzinfo=BERLIN)) is True
    assert calendar.is_business_time(datetime(2026, 6, 15, 18, tzinfo=BERLIN)) is False
    assert calendar.is_business_time(datetime(2026, 6, 13, 12, tzinfo=BERLIN)) is False
    assert calendar.is_business_time(datetime(2026, 12, 25, 12, tzinfo=BERLIN)) is False
