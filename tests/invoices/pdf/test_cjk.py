"""Any customer name prints: text DejaVu Sans cannot draw is set in the embedded fallback."""

from __future__ import annotations

import io
import subprocess
import sys

import pdfplumber
import pikepdf
from pypdf import PdfReader

from invoices.pdf import render_pdf
from tests.invoices.pdf.factories import make_customer, make_document

NAME = "株式会社サンプル商事"


def _document() -> bytes:
    return render_pdf(
        make_document(
            customer=make_customer(name=NAME, address_lines=("東京都千代田区丸の内1-1-1",))
        )
    )


def test_a_japanese_name_prints_in_an_embedded_truetype_font() -> None:
    pdf = _document()
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    assert NAME in text and "東京都千代田区" in text
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        fonts = {
            str(font.BaseFont): font
            for page in doc.pages
            for font in page.Resources.Font.values()  # type: ignore[union-attr]
        }
        fallback = [f for name, f in fonts.items() if "DroidSansFallback" in name]
        assert fallback, sorted(fonts)
        assert all("/FontFile2" in f.FontDescriptor for f in fallback)  # TrueType, embedded


def test_a_latin_only_document_does_not_embed_the_fallback() -> None:
    with pikepdf.open(io.BytesIO(render_pdf(make_document()))) as doc:
        names = {str(f.BaseFont) for p in doc.pages for f in p.Resources.Font.values()}  # type: ignore[union-attr]
    assert not any("Fallback" in name for name in names)


def test_same_bytes_in_another_process() -> None:
    code = (
        "import sys, hashlib; sys.path.insert(0, '.');"
        "from tests.invoices.pdf.test_cjk import _document;"
        "print(hashlib.sha256(_document()).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    import hashlib

    assert other == hashlib.sha256(_document()).hexdigest()


def test_the_bold_customer_name_is_drawn_in_the_fallback_font() -> None:
    """The name is set in the bold face, which lacks these glyphs like the regular one: every
    character of it must come from the fallback font, not print as empty boxes."""
    with pdfplumber.open(io.BytesIO(_document())) as document:
        chars = document.pages[0].chars
    name_fonts = {char["fontname"] for char in chars if char["text"] in NAME}
    assert name_fonts and all("DroidSansFallback" in font for font in name_fonts), name_fonts
