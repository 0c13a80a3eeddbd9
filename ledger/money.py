"""Money as integer minor units of an ISO 4217 currency.

Amounts are stored and summed as integers; `Decimal` is used only to compute a line and is
rounded half-up to the minor unit once, at the end (SPEC "Units and money").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

import pycountry

# ISO 4217 minor units that are not 2. Everything else pycountry knows has exponent 2.
_EXPONENT_NOT_TWO: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
# Codes in ISO 4217 that are not money a customer is invoiced in (metals, testing, funds).
_NOT_INVOICEABLE = frozenset(
    ["XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD"]
)


class UnknownCurrency(ValueError):
    """The code is not an ISO 4217 currency Hourglass can invoice in."""


class TooManyDecimals(ValueError):
    """The amount has more decimal places than the currency's minor unit."""


def is_currency(code: str) -> bool:
    return isinstance(code, str) and _is_invoiceable(code)


@lru_cache(maxsize=512)
def _is_invoiceable(code: str) -> bool:
    """Memoised: every amount formatted or rounded asks, and ISO 4217 does not change while
    the process runs (pycountry's database is read once)."""
    return (
        len(code) == 3
        and code.isupper()
        and code not in _NOT_INVOICEABLE
        and pycountry.currencies.get(alpha_3=code) is not None
    )


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    if not is_currency(currency):
        raise UnknownCurrency(currency)
    return _EXPONENT_NOT_TWO.get(currency, 2)


def round_half_up(value: Decimal, currency: str) -> int:
    """Round a major-unit Decimal half-up to an integer number of minor units."""
    scaled = value * (Decimal(10) ** exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """Parse an exact major-unit amount ("2000.00") into minor units, refusing extra decimals."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not a decimal amount") from exc
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a decimal amount")
    places = exponent(currency)
    scaled = value * (Decimal(10) ** places)
    if scaled != scaled.to_integral_value():
        raise TooManyDecimals(f"{currency} amounts have at most {places} decimal places")
    return int(scaled)


def from_minor(amount_minor: int, currency: str) -> Decimal:
    places = exponent(currency)
    return Decimal(amount_minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def format_amount(amount_minor: int, currency: str) -> str:
    """The API's decimal string: 200000 EUR -> "2000.00", 500 JPY -> "500"."""
    return str(from_minor(amount_minor, currency))
