"""Checks shared by every request schema: currencies, time zones, holiday regions, and the
strict-JSON and bounds rules of SPEC "Units and money".

`Input`, the base of every request body, applies the rules that hold for every field of a kind
(integers are JSON integers, dates inside the bounds, no control characters in text), so a new
field cannot forget them; `Money` and `MoneyText` mark the fields that are amounts."""

from __future__ import annotations

import re
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pycountry
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

from ledger import money
from ledger.periods import check_day, check_instant
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


def _money_input(value: Any) -> Any:
    """Money is a decimal string; a JSON integer is a whole amount; a JSON float is refused
    (0.1 has no exact binary value: whoever sent it has already lost a cent somewhere)."""
    if isinstance(value, (bool, float)):
        raise ValueError('money is a decimal string such as "12.50" (or an integer), not a number')
    return value


def _money_text(value: Any) -> Any:
    value = _money_input(value)
    return str(value) if isinstance(value, int) else value


Money = Annotated[Decimal, BeforeValidator(_money_input)]
MoneyText = Annotated[str, BeforeValidator(_money_text)]

# Tab and newline are allowed in these fields only; every other control character (C0, DEL,
# C1, hence ANSI escapes) is refused in every text field.
MULTILINE_FIELDS = frozenset({"description", "reason", "note", "notes", "comment"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_text(value: str, *, multiline: bool = False) -> str:
    found = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if found:
        allowed = " (tab and newline are allowed here)" if multiline else ""
        raise ValueError(
            f"text must not contain control characters: U+{ord(found.group()):04X}{allowed}"
        )
    return value


def _kinds(annotation: Any) -> set[type]:
    """The plain types an annotation admits: `int | None` -> {int, NoneType}."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


def _strict_int(value: Any) -> None:
    if isinstance(value, (bool, str, float)):
        raise ValueError(f"must be a JSON integer, not {value!r}")


_SCALAR, _ITEMS, _NONE = "scalar", "items", "none"
# What `_strict_integers` checks for each (model, field), worked out from its annotation once:
# the annotation never changes, and reading it costs more than the check (a batch of 1,000
# entries read it 8,000 times).
_INTEGER_CHECKS: dict[tuple[type, str], str] = {}


def _integer_check(field: Any) -> str:
    if field is None:
        return _NONE
    kinds = _kinds(field.annotation)
    if int in kinds and not kinds & {str, float, Decimal}:
        return _SCALAR
    if typing.get_origin(field.annotation) is list:
        (item,) = typing.get_args(field.annotation) or (Any,)
        if int in _kinds(item):
            return _ITEMS
    return _NONE


class Input(BaseModel):
    """Base of every request body: unknown fields are refused; an integer field takes only a
    JSON integer (`true`, `"30"` and `30.0` are not minutes); dates and instants lie inside
    the bounds; text holds no control characters (PostgreSQL cannot even store U+0000)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _strict_integers(cls, value: Any, info: ValidationInfo) -> Any:
        key = (cls, info.field_name or "")
        check = _INTEGER_CHECKS.get(key)
        if check is None:
            check = _INTEGER_CHECKS[key] = _integer_check(cls.model_fields.get(key[1]))
        if check is _SCALAR:
            _strict_int(value)
        elif check is _ITEMS and isinstance(value, list):
            for part in value:
                _strict_int(part)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_and_clean(cls, value: Any, info: ValidationInfo) -> Any:
        multiline = info.field_name in MULTILINE_FIELDS
        for part in value if isinstance(value, list) else [value]:
            if isinstance(part, str):
                check_text(part, multiline=multiline)
            elif isinstance(part, datetime):
                check_instant(part)
            elif isinstance(part, date):
                check_day(part)
        return value
