"""EN 16931 e-invoices: Factur-X CII, XRechnung (CII) and UBL (Peppol BIS Billing 3.0)."""

from invoices.einvoice.cii import build_cii, build_cii_pair
from invoices.einvoice.model import EInvoice, EInvoiceLine, Party
from invoices.einvoice.ubl import build_ubl

TEMPLATE_VERSION = "1"
"""Bump on any change to the XML bytes; each stored document records the version that made it."""

__all__ = [
    "TEMPLATE_VERSION",
    "EInvoice",
    "EInvoiceLine",
    "Party",
    "build_cii",
    "build_cii_pair",
    "build_ubl",
]
