"""Checks shared by several request schemas: currencies, time zones, holiday regions."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pycountry
from pydantic import BaseModel, ConfigDict, field_validator

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
    """An ISO 3166 alpha-2 code, stored upper-case ("de" -> "DE")."""
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 country code (e.g. DE)")
    return code.upper()


def plain_decimal(value: Decimal) -> Decimal:
    """ "1E+1" -> 10: decimals are stored and shown in plain notation."""
    return Decimal(format(value, "f"))


class Input(BaseModel):
    """Base of every request body: unknown fields are refused, and so is U+0000 in any text
    (PostgreSQL cannot store it; no real name or description contains it)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("text must not contain NUL (U+0000) characters")
        return value
