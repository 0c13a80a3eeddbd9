"""Checks shared by several request schemas: currencies, time zones, holiday regions."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pycountry

from ledger import money
from ledger.sla.calendar import parse_holiday_region


def check_currency(code: str) -> str:
    if not money.is_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code (e.g. EUR, USD, JPY)")
    return code


def check_timezone(name: str) -> str:
    if name not in _timezones():
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from exc
    return name


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_holiday_region(code: str) -> str:
    """A region the `holidays` package knows, in its canonical spelling ("de-be" -> "DE-BE")."""
    country, subdivision = parse_holiday_region(code)
    return f"{country}-{subdivision}" if subdivision else country


def check_country(code: str) -> str:
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 country code (e.g. DE)")
    return code


def check_percent(value: Decimal, *, allow_zero: bool = True) -> Decimal:
    if value < 0 or value > 100 or (not allow_zero and value == 0):
        raise ValueError("must be a percentage between 0 and 100")
    return value
