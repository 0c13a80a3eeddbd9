"""ledger.units: hours at the edge, whole minutes inside."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.units import NotWholeMinutes, hours_to_minutes, minutes_to_hours


@pytest.mark.parametrize(
    ("hours", "minutes"),
    [
        ("7.75", 465),
        ("20", 1_200),
        (20, 1_200),
        (Decimal("0.05"), 3),
        ("0.5", 30),
        ("0", 0),
        ("7.750", 465),  # a trailing zero is not a third decimal place
        ("1000", 60_000),
    ],
)
def test_hours_to_minutes(hours: object, minutes: int) -> None:
    assert hours_to_minutes(hours) == minutes  # type: ignore[arg-type]


@pytest.mark.parametrize("hours", ["0.01", "0.02", "7.76", "1.234", "0.001", "0.125"])
def test_hours_that_are_not_whole_minutes_are_refused(hours: str) -> None:
    with pytest.raises(NotWholeMinutes):
        hours_to_minutes(hours)


def test_more_than_two_decimal_places_is_refused_with_its_own_message() -> None:
    assert hours_to_minutes("0.0500") == 3  # trailing zeros are not extra places
    with pytest.raises(NotWholeMinutes, match="2 decimal places"):
        hours_to_minutes("1.234")
    with pytest.raises(NotWholeMinutes, match="not a whole number of minutes"):
        hours_to_minutes("0.01")


@pytest.mark.parametrize("hours", ["abc", "", "NaN", "Infinity"])
def test_hours_that_are_not_numbers_are_refused(hours: str) -> None:
    with pytest.raises(ValueError, match="not a number of hours"):
        hours_to_minutes(hours)


@pytest.mark.parametrize(
    ("minutes", "hours"), [(465, "7.75"), (1_200, "20.00"), (0, "0.00"), (20, "0.33")]
)
def test_minutes_to_hours_for_display(minutes: int, hours: str) -> None:
    assert str(minutes_to_hours(minutes)) == hours
