"""Rendering an invoice's documents: a pure function of `DocumentData`, safe in a process pool.

Each XML is built once (the two CII ones from one tree); the EN 16931 CII is also the PDF's
embedded `factur-x.xml`.
"""

from __future__ import annotations

from dataclasses import dataclass

from invoices import einvoice, pdf
from invoices.documents.data import DocumentData
from invoices.einvoice.facturx_pdf import facturx_parts


@dataclass(frozen=True, slots=True)
class Rendered:
    content: bytes
    template_version: str


def build_documents(data: DocumentData) -> dict[str, Rendered]:
    """Every format of one invoice or credit note, keyed by format name."""
    version = einvoice.TEMPLATE_VERSION
    cii, xrechnung = einvoice.build_cii_pair(data.einvoice)
    title = f"{'Invoice' if data.pdf.kind == 'invoice' else 'Credit note'} {data.pdf.number}"
    finish = facturx_parts(
        cii,
        title=title,
        author=data.pdf.issuer.name,
        issue_date=data.pdf.issue_date,
        fingerprint=f"hourglass|{data.owner}|{data.owner_id}|{data.pdf.number}",
    )
    hybrid = pdf.render_pdf(data.pdf, finish=finish)
    return {
        "pdf": Rendered(hybrid, data.pdf.template_version),
        "cii": Rendered(cii, version),
        "xrechnung": Rendered(xrechnung, version),
        "ubl": Rendered(einvoice.build_ubl(data.einvoice), version),
    }
