"""ledger.periods: calendar months and quarters, and their instants in a contract's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.periods import (
    Period,
    add_months,
    local_date,
    local_midnight,
    month_label,
    month_period,
    overlap_days,
    parse_month,
    period_containing,
)


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2026, 5, 20), date(2026, 5, 1), date(2026, 6, 1)),
        (date(2026, 5, 1), date(2026, 5, 1), date(2026, 6, 1)),
        (date(2026, 5, 31), date(2026, 5, 1), date(2026, 6, 1)),
        (date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
    ],
)
def test_month_containing_a_date(day: date, start: date, end: date) -> None:
    assert period_containing(day, "month") == Period(start, end)


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 4, 1)),
        (date(2026, 3, 31), date(2026, 1, 1), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 4, 1), date(2026, 7, 1)),
        (date(2026, 8, 15), date(2026, 7, 1), date(2026, 10, 1)),
        (date(2026, 11, 15), date(2026, 10, 1), date(2027, 1, 1)),
    ],
)
def test_quarter_containing_a_date(day: date, start: date, end: date) -> None:
    period = period_containing(day, "quarter")
    assert period == Period(start, end)
    assert period.months == 3


def test_unknown_period_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown period kind"):
        period_containing(date(2026, 1, 1), "week")


@pytest.mark.parametrize(
    ("day", "months", "result"),
    [
        (date(2026, 1, 1), 1, date(2026, 2, 1)),
        (date(2026, 11, 1), 3, date(2027, 2, 1)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
        (date(2026, 1, 1), -1, date(2025, 12, 1)),
        (date(2026, 3, 1), -15, date(2024, 12, 1)),
        (date(2026, 1, 1), 24, date(2028, 1, 1)),
        (date(2026, 6, 1), 0, date(2026, 6, 1)),
    ],
)
def test_add_months_across_years(day: date, months: int, result: date) -> None:
    assert add_months(day, months) == result


def test_month_lengths_including_a_leap_february() -> None:
    assert month_period(date(2028, 2, 1)).days == 29
    assert month_period(date(2026, 2, 1)).days == 28
    assert month_period(date(2100, 2, 1)).days == 28  # divisible by 100, not by 400
    assert month_period(date(2000, 2, 1)).days == 29
    assert month_period(date(2026, 5, 1)).days == 31
    assert month_period(date(2026, 4, 1)).days == 30
    assert period_containing(date(2028, 2, 10), "quarter").days == 31 + 29 + 31


def test_period_navigation_and_labels() -> None:
    may = month_period(date(2026, 5, 1))
    assert may.label == "2026-05"
    assert may.next() == Period(date(2026, 6, 1), date(2026, 7, 1))
    assert may.previous() == Period(date(2026, 4, 1), date(2026, 5, 1))
    assert month_period(date(2026, 12, 1)).next().label == "2027-01"
    q4 = period_containing(date(2026, 11, 15), "quarter")
    assert q4.label == "2026-12"  # a quarter is named by its last month (SPEC "Fees")
    assert q4.range_label == "2026-12 (2026-10-01 – 2026-12-31)"
    assert q4.last_month == "2026-12"
    assert q4.next() == Period(date(2027, 1, 1), date(2027, 4, 1))
    assert may.contains(date(2026, 5, 31))
    assert not may.contains(date(2026, 6, 1))  # the end is exclusive
    assert not may.contains(date(2026, 4, 30))
    assert month_label(date(2026, 5, 20)) == "2026-05"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "x"])
def test_parse_month_refuses_malformed_months(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)


def test_parse_month() -> None:
    assert parse_month("2026-02") == date(2026, 2, 1)
    assert parse_month("2026-12") == date(2026, 12, 1)


def test_local_midnight_in_berlin_winter_and_summer() -> None:
    assert local_midnight(date(2026, 1, 15), "Europe/Berlin") == datetime(
        2026, 1, 14, 23, 0, tzinfo=UTC
    )
    assert local_midnight(date(2026, 7, 15), "Europe/Berlin") == datetime(
        2026, 7, 14, 22, 0, tzinfo=UTC
    )
    assert local_midnight(date(2026, 1, 1), "UTC") == datetime(2026, 1, 1, tzinfo=UTC)
    assert local_midnight(date(2026, 1, 1), "America/Sao_Paulo") == datetime(
        2026, 1, 1, 3, 0, tzinfo=UTC
    )


def test_local_midnight_returns_aware_utc() -> None:
    instant = local_midnight(date(2026, 3, 1), "Europe/Berlin")
    assert instant.tzinfo is UTC


def _minutes_in(period: Period, timezone: str) -> int:
    span = local_midnight(period.end, timezone) - local_midnight(period.start, timezone)
    return int(span.total_seconds()) // 60


def test_month_length_follows_dst_in_berlin() -> None:
    # 2026-03-29 the clocks go forward (one hour less); 2026-10-25 back (one hour more).
    assert _minutes_in(month_period(date(2026, 3, 1)), "Europe/Berlin") == 31 * 1440 - 60
    assert _minutes_in(month_period(date(2026, 10, 1)), "Europe/Berlin") == 31 * 1440 + 60
    assert _minutes_in(month_period(date(2026, 4, 1)), "Europe/Berlin") == 43_200  # SPEC ex. 3
    assert _minutes_in(month_period(date(2026, 3, 1)), "UTC") == 31 * 1440


def test_local_midnight_on_the_dst_days_themselves() -> None:
    assert local_midnight(date(2026, 3, 29), "Europe/Berlin") == datetime(
        2026, 3, 28, 23, 0, tzinfo=UTC
    )
    assert local_midnight(date(2026, 3, 30), "Europe/Berlin") == datetime(
        2026, 3, 29, 22, 0, tzinfo=UTC
    )
    assert local_midnight(date(2026, 10, 26), "Europe/Berlin") == datetime(
        2026, 10, 25, 23, 0, tzinfo=UTC
    )


def test_local_date_of_an_instant() -> None:
    late_evening_utc = datetime(2026, 4, 30, 22, 30, tzinfo=UTC)
    assert local_date(late_evening_utc, "Europe/Berlin") == date(2026, 5, 1)
    assert local_date(late_evening_utc, "UTC") == date(2026, 4, 30)


def test_overlap_days_for_a_contract_starting_inside_the_month() -> None:
    may = month_period(date(2026, 5, 1))
    assert overlap_days(may, date(2026, 5, 20), None) == 12  # SPEC worked example 4
    assert overlap_days(may, date(2026, 5, 20), date(2026, 5, 25)) == 6  # both ends inclusive
    assert overlap_days(may, date(2026, 5, 1), None) == 31
    assert overlap_days(may, date(2026, 1, 1), date(2026, 12, 31)) == 31
    assert overlap_days(may, date(2026, 5, 31), date(2026, 5, 31)) == 1


def test_overlap_days_outside_the_period_is_zero() -> None:
    may = month_period(date(2026, 5, 1))
    assert overlap_days(may, date(2026, 6, 1), None) == 0
    assert overlap_days(may, date(2026, 1, 1), date(2026, 4, 30)) == 0
    assert overlap_days(may, date(2026, 1, 1), date(2026, 5, 1)) == 1


def test_overlap_days_in_a_leap_february() -> None:
    feb_2028 = month_period(date(2028, 2, 1))
    assert overlap_days(feb_2028, date(2028, 1, 1), None) == 29
    assert overlap_days(feb_2028, date(2028, 2, 15), None) == 15


def test_local_midnight_per_zone_and_day() -> None:
    """Memoised per (day, zone): two zones on one day, and the days around a DST change."""
    day = date(2026, 3, 29)
    assert local_midnight(day, "Europe/Berlin") == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert local_midnight(day, "UTC") == datetime(2026, 3, 29, tzinfo=UTC)
    assert local_midnight(day, "America/Sao_Paulo") == datetime(2026, 3, 29, 3, tzinfo=UTC)
    assert local_midnight(date(2026, 3, 30), "Europe/Berlin") == datetime(
        2026, 3, 29, 22, tzinfo=UTC
    )
    assert local_midnight(date(2028, 2, 29), "Europe/Berlin") == datetime(
        2028, 2, 28, 23, tzinfo=UTC
    )
