"""Amounts and quantities as EN 16931 spells them: the currency's decimals, never exponents."""

from __future__ import annotations

from decimal import Decimal

from ledger.money import format_amount


def amount(minor: int, currency: str) -> str:
    return format_amount(minor, currency)


def decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
