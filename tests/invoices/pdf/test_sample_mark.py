"""A sample issuer's PDF says on every page that it is no invoice; a real issuer's does not."""

from __future__ import annotations

import io

from pypdf import PdfReader

from invoices.pdf import render_pdf
from invoices.pdf.render import SAMPLE_MARK
from tests.invoices.pdf.factories import make_document


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def test_every_page_of_a_sample_document_is_marked() -> None:
    pages = _pages(render_pdf(make_document(sample=True)))
    assert len(pages) >= 2
    assert all(SAMPLE_MARK in text for text in pages)
    assert SAMPLE_MARK == "SAMPLE — not a valid invoice"


def test_a_real_issuers_document_is_not_marked() -> None:
    assert not any(SAMPLE_MARK in text for text in _pages(render_pdf(make_document())))
