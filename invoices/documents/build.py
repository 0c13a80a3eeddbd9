"""Rendering an invoice's documents: a pure function of `DocumentData`, safe in a process pool."""

from __future__ import annotations

from dataclasses import dataclass

from invoices import pdf
from invoices.documents.data import DocumentData


@dataclass(frozen=True, slots=True)
class Rendered:
    content: bytes
    template_version: str


def build_documents(data: DocumentData) -> dict[str, Rendered]:
    """Every format of one invoice or credit note, keyed by format name."""
    return {"pdf": Rendered(pdf.render_pdf(data.pdf), data.pdf.template_version)}
