"""Wiring between the app's settings and the billing domain."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.settings import Settings
from invoices.issuer import IssuerDetails
from invoices.runs.flows import Biller


def issuer_details(settings: Settings) -> IssuerDetails:
    issuer = settings.issuer
    return IssuerDetails(
        name=issuer.name,
        address_lines=issuer.address,
        tax_id=issuer.tax_id or None,
        email=issuer.email or None,
        payment_instructions=issuer.payment_instructions,
        street=issuer.street or None,
        city=issuer.city or None,
        postal_code=issuer.postal_code or None,
        country=issuer.country or None,
        phone=issuer.phone or None,
        contact_name=issuer.contact_name or None,
        iban=issuer.iban or None,
        bic=issuer.bic or None,
        sample=issuer.sample,
    )


def make_biller(settings: Settings, factory: sessionmaker[Session]) -> Biller:
    return Biller(
        factory=factory,
        issuer=issuer_details(settings),
        chunk_size=settings.billing_chunk_size,
        document_processes=settings.document_processes,
    )
