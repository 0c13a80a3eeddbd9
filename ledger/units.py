"""Hours at the edge, minutes inside: the ledger only ever stores whole minutes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


class NotWholeMinutes(ValueError):
    """An hours value that does not convert to a whole number of minutes."""


def hours_to_minutes(hours: Decimal | str | int) -> int:
    try:
        value = Decimal(str(hours))
    except InvalidOperation as exc:
        raise ValueError(f"{hours!r} is not a number of hours") from exc
    if not value.is_finite():
        raise ValueError(f"{hours!r} is not a number of hours")
    if value != value.quantize(Decimal("0.01")):
        raise NotWholeMinutes("hours have at most 2 decimal places")
    minutes = value * 60
    if minutes != minutes.to_integral_value():
        raise NotWholeMinutes(f"{hours} h is not a whole number of minutes")
    return int(minutes)


def minutes_to_hours(minutes: int) -> Decimal:
    """Hours as a decimal with 2 places, for display only (465 -> 7.75)."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))
