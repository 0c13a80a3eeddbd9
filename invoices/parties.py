"""Who an invoice or credit note is from and to, as of its issue.

Its documents are rendered after the issuing commit (`invoices.runs.documents`), maybe long
after, by another process with its own issuer settings; the customer's address, VAT id or buyer
reference may have changed meanwhile. So issuing stores the parties on the row (`parties`, plain
JSON: strings, bools, None), and the documents are built from that: exactly what they show of
the customer (`pdf.Customer` and `Buyer`) and of the issuer (every `IssuerDetails` field). A
row issued before the column existed has none; its documents show the live rows, as they did.
The live rows go through the same dict, so both ways build the same documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from invoices import pdf
from invoices.einvoice.mapping import Buyer
from invoices.issuer import IssuerDetails
from ledger.customers.models import Customer

_ISSUER_TUPLES = ("address_lines", "payment_instructions")


def snapshot(customer: Customer, issuer: IssuerDetails) -> dict[str, Any]:
    """The parties as stored on an issued row."""
    assert customer.id is not None
    return {
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "address_lines": list(customer.address),
            "street": customer.street,
            "city": customer.city,
            "postal_code": customer.postal_code,
            "country": customer.country,
            "tax_id": customer.tax_id,
            "vat_id": customer.vat_id,
            "email": customer.email,
            "buyer_reference": customer.buyer_reference,
        },
        "issuer": {
            f.name: list(getattr(issuer, f.name))
            if f.name in _ISSUER_TUPLES
            else getattr(issuer, f.name)
            for f in fields(IssuerDetails)
        },
    }


@dataclass(frozen=True, slots=True)
class Parties:
    """The parties as the documents take them."""

    customer: pdf.Customer
    buyer: Buyer
    issuer: IssuerDetails


def parties(stored: Mapping[str, Any]) -> Parties:
    """The parties of a `snapshot`."""
    customer = stored["customer"]
    issuer = stored["issuer"]
    issuer_fields: dict[str, Any] = {
        f.name: tuple(issuer[f.name]) if f.name in _ISSUER_TUPLES else issuer[f.name]
        for f in fields(IssuerDetails)
    }
    return Parties(
        customer=pdf.Customer(
            name=customer["name"],
            address_lines=tuple(customer["address_lines"]),
            country=customer["country"],
            tax_id=customer["tax_id"],
            email=customer["email"],
        ),
        buyer=Buyer(
            customer_id=customer["id"],
            name=customer["name"],
            street=customer["street"],
            city=customer["city"],
            postal_code=customer["postal_code"],
            country=customer["country"],
            vat_id=customer["vat_id"],
            email=customer["email"],
            buyer_reference=customer["buyer_reference"],
        ),
        issuer=IssuerDetails(**issuer_fields),
    )


def as_issued(
    stored: Mapping[str, Any] | None, *, customer: Customer | None, issuer: IssuerDetails
) -> Parties:
    """A row's parties: its snapshot, or (none stored: issued before there were any) the
    customer row and the issuer as they are now."""
    if stored:
        return parties(stored)
    assert customer is not None
    return parties(snapshot(customer, issuer))
