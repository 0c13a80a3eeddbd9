"""ledger.money: ISO 4217 minor units, exact parsing, half-up rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import money
from ledger.money import TooManyDecimals, UnknownCurrency


@pytest.mark.parametrize(
    ("currency", "places"),
    [("EUR", 2), ("USD", 2), ("BRL", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_exponent_follows_iso_4217(currency: str, places: int) -> None:
    assert money.exponent(currency) == places


@pytest.mark.parametrize("code", ["EURO", "eur", "XXX", "XAU", "XTS", "ABC", "", "EU"])
def test_exponent_refuses_what_is_not_an_invoiceable_currency(code: str) -> None:
    assert not money.is_currency(code)
    with pytest.raises(UnknownCurrency):
        money.exponent(code)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("2000.00", "EUR", 200_000),
        ("2000", "EUR", 200_000),
        ("0.05", "EUR", 5),
        (Decimal("2000.000"), "EUR", 200_000),  # trailing zeros are not extra precision
        ("1e3", "EUR", 100_000),
        (12, "USD", 1_200),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1_234),
        ("-1.50", "EUR", -150),
    ],
)
def test_to_minor_parses_exact_amounts(amount: object, currency: str, minor: int) -> None:
    assert money.to_minor(amount, currency) == minor  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10.001", "EUR"), ("0.005", "USD"), ("10.5", "JPY"), ("1.2345", "KWD")],
)
def test_to_minor_refuses_more_decimals_than_the_currency_has(amount: str, currency: str) -> None:
    with pytest.raises(TooManyDecimals, match=f"{currency} amounts have at most"):
        money.to_minor(amount, currency)


@pytest.mark.parametrize("amount", ["abc", "", "NaN", "Infinity", "-Infinity", "1,00"])
def test_to_minor_refuses_what_is_not_a_finite_decimal(amount: str) -> None:
    with pytest.raises(ValueError, match="not a decimal amount"):
        money.to_minor(amount, "EUR")


def test_to_minor_refuses_an_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency):
        money.to_minor("1.00", "EURO")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (200_000, "EUR", "2000.00"),
        (5, "EUR", "0.05"),
        (0, "EUR", "0.00"),
        (-150, "EUR", "-1.50"),
        (500, "JPY", "500"),
        (1_234, "KWD", "1.234"),
        (7, "KWD", "0.007"),
    ],
)
def test_format_amount_uses_the_currency_exponent(minor: int, currency: str, text: str) -> None:
    assert money.format_amount(minor, currency) == text


def test_format_amount_never_uses_scientific_notation() -> None:
    assert money.format_amount(10**15, "EUR") == "10000000000000.00"
    assert money.format_amount(0, "JPY") == "0"


@pytest.mark.parametrize(
    ("minor", "currency"), [(200_000, "EUR"), (-1, "EUR"), (500, "JPY"), (1_234, "KWD")]
)
def test_format_then_parse_round_trips(minor: int, currency: str) -> None:
    assert money.to_minor(money.format_amount(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (Decimal("0.005"), "EUR", 1),  # a half rounds up ...
        (Decimal("0.0049999"), "EUR", 0),
        (Decimal("0.015"), "EUR", 2),  # ... not to even (banker's rounding would give 2 too)
        (Decimal("0.025"), "EUR", 3),  # banker's rounding would give 2
        (Decimal("774.193548"), "EUR", 77_419),  # SPEC worked example 4: 2000 x 12/31
        (Decimal("2.5"), "JPY", 3),
        (Decimal("0.0005"), "KWD", 1),
        # Half-up is "half away from zero": a negative half rounds to the larger magnitude,
        # so a credit line mirrors the charge it reverses exactly.
        (Decimal("-0.005"), "EUR", -1),
        (Decimal("-0.025"), "EUR", -3),
        (Decimal("-0.004"), "EUR", 0),
        (Decimal("-2.5"), "JPY", -3),
    ],
)
def test_round_half_up(value: Decimal, currency: str, minor: int) -> None:
    assert money.round_half_up(value, currency) == minor


def test_round_half_up_of_a_negative_mirrors_the_positive() -> None:
    for text in ("0.005", "0.015", "1.125", "774.195"):
        value = Decimal(text)
        assert money.round_half_up(-value, "EUR") == -money.round_half_up(value, "EUR")


def test_from_minor_is_exact() -> None:
    assert money.from_minor(77_419, "EUR") == Decimal("774.19")
    assert str(money.from_minor(100, "EUR")) == "1.00"
    assert money.from_minor(500, "JPY") == Decimal(500)


def test_currency_check_is_memoised_per_code() -> None:
    assert [money.is_currency(c) for c in ("EUR", "eur", "XAU", "EUR", "ABC", "JPY")] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]
    assert money.is_currency(None) is False  # type: ignore[arg-type]
    assert money.is_currency(["EUR"]) is False  # type: ignore[arg-type]
