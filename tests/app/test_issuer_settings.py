"""`HOURGLASS_ISSUER_*`: without them a sample issuer, said at start-up and marked on PDFs."""

from __future__ import annotations

import logging

import pytest

from app.main import create_app
from app.settings import Settings, load_issuer

FULL = {
    "HOURGLASS_ISSUER_NAME": "Beispiel Support GmbH",
    "HOURGLASS_ISSUER_STREET": "Torstraße 10",
    "HOURGLASS_ISSUER_CITY": "Berlin",
    "HOURGLASS_ISSUER_POSTAL_CODE": "10119",
    "HOURGLASS_ISSUER_COUNTRY": "de",
    "HOURGLASS_ISSUER_VAT_ID": "DE 136 695 976",
    "HOURGLASS_ISSUER_EMAIL": "rechnung@beispiel.example",
    "HOURGLASS_ISSUER_PHONE": "+49 30 1234567",
    "HOURGLASS_ISSUER_CONTACT_NAME": "Erika Muster",
    "HOURGLASS_ISSUER_IBAN": "DE89 3704 0044 0532 0130 00",
    "HOURGLASS_ISSUER_BIC": "COBADEFFXXX",
}


def test_no_issuer_is_the_sample_issuer() -> None:
    assert load_issuer({}).sample is True


def test_a_configured_issuer() -> None:
    issuer = load_issuer(FULL)
    assert issuer.sample is False
    assert (issuer.name, issuer.country, issuer.tax_id, issuer.iban) == (
        "Beispiel Support GmbH",
        "DE",
        "DE136695976",
        "DE89370400440532013000",
    )
    assert issuer.address == ("Torstraße 10", "10119 Berlin")  # from the structured fields
    assert load_issuer({**FULL, "HOURGLASS_ISSUER_ADDRESS": "Hof 2|10119 Berlin"}).address == (
        "Hof 2",
        "10119 Berlin",
    )


@pytest.mark.parametrize("variable", ["IBAN", "VAT_ID", "BIC"])
def test_a_wrong_number_stops_the_start(variable: str) -> None:
    with pytest.raises(ValueError, match="HOURGLASS_ISSUER_"):
        load_issuer({**FULL, f"HOURGLASS_ISSUER_{variable}": "XX00 1234"})


def test_start_up_warns_about_the_sample_issuer(caplog: pytest.LogCaptureFixture) -> None:
    from app.settings import Issuer

    with caplog.at_level(logging.WARNING, logger="hourglass"):
        create_app(Settings(database_url="sqlite://", issuer=Issuer(sample=True)))
    assert "SAMPLE" in caplog.text and "HOURGLASS_ISSUER_NAME" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hourglass"):
        create_app(Settings(database_url="sqlite://"))
    assert "SAMPLE" not in caplog.text
