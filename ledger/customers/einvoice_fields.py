"""Checks of the customer data e-invoices need (SPEC "E-invoices (EN 16931)").

VAT identifiers are checked with `python-stdnum`: an EU VAT id (with its country prefix) by the
VIES rules of its country, another country's by that country's module where stdnum has one.
"""

from __future__ import annotations

import re

from stdnum import bic, get_cc_module, iban
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.jp import cn as jp_cn

E_INVOICE_FORMATS = ("cii", "xrechnung", "ubl")


def check_vat_id(value: str, country: str | None = None) -> str:
    """A VAT id in its compact form ("de 136 695 976" -> "DE136695976")."""
    compact = re.sub(r"[\s.\-/]", "", value).upper()
    prefix = compact[:2]
    eu = {code.upper() for code in eu_vat.MEMBER_STATES} | {"EL", "XI"}
    if not prefix.isalpha() and country and (country.upper() in eu or country.upper() == "GR"):
        compact = ("EL" if country.upper() == "GR" else country.upper()) + compact
        prefix = compact[:2]
    if prefix.isalpha() and prefix in eu:
        try:
            return str(eu_vat.validate(compact))
        except ValidationError as exc:
            raise ValueError(f"{value!r} is not a valid VAT id: {exc}") from exc
    if country == "JP":  # a qualified-invoice registration number: T + the corporate number
        digits = compact[1:] if compact.startswith("T") else compact
        try:
            return "T" + str(jp_cn.validate(digits))
        except ValidationError as exc:
            raise ValueError(f"{value!r} is not a Japanese registration number: {exc}") from exc
    module = get_cc_module(country.lower(), "vat") if country else None
    if module is not None and hasattr(module, "validate"):
        try:
            return str(module.validate(value))
        except ValidationError as exc:
            raise ValueError(f"{value!r} is not a valid VAT id for {country}: {exc}") from exc
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 .\-/]{1,62}", value.strip()):
        raise ValueError(f"{value!r} is not a VAT id")
    return value.strip()


def check_iban(value: str) -> str:
    try:
        return str(iban.validate(value))
    except ValidationError as exc:
        raise ValueError(f"{value!r} is not a valid IBAN: {exc}") from exc


def check_bic(value: str) -> str:
    try:
        return str(bic.validate(value))
    except ValidationError as exc:
        raise ValueError(f"{value!r} is not a valid BIC: {exc}") from exc
