"""Rendering an invoice's documents: a pure function of `DocumentData`, safe in a process pool.

Each XML is built once; the CII one is also the PDF's embedded `factur-x.xml`.
"""

from __future__ import annotations

from dataclasses import dataclass

from invoices import einvoice, pdf
from invoices.documents.data import DocumentData


@dataclass(frozen=True, slots=True)
class Rendered:
    content: bytes
    template_version: str


def build_documents(data: DocumentData) -> dict[str, Rendered]:
    """Every format of one invoice or credit note, keyed by format name."""
    version = einvoice.TEMPLATE_VERSION
    cii = einvoice.build_cii(data.einvoice, "en16931")
    return {
        "pdf": Rendered(pdf.render_pdf(data.pdf), data.pdf.template_version),
        "cii": Rendered(cii, version),
        "xrechnung": Rendered(einvoice.build_cii(data.einvoice, "xrechnung"), version),
        "ubl": Rendered(einvoice.build_ubl(data.einvoice), version),
    }
