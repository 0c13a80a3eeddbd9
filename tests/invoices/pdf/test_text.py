"""`TextBlock` is a cheaper `Paragraph`: same line breaks, same height, same PDF bytes."""

from __future__ import annotations

import io

import pytest
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph

from invoices.pdf.render import _styles
from invoices.pdf.text import TextBlock, text_flowable
from invoices.pdf.typeface import FONT, FONT_BOLD, markup, register_fonts

TEXTS = [
    "Invoice",
    "Ticket follow-up 7: configuration change and verification",
    "allotment 2026-02/2026-03 (pool)",
    "  leading, trailing  and   repeated spaces  ",
    "Supercalifragilisticexpialidocious" * 3 + " then words",  # a word wider than the column
    "Nearly fits " * 12,
    "São Paulo Comércio Ltda · Ελληνικά · Кириллица",
    "",
]
WIDTHS = [40.0, 109.0, 174.0, 300.0]


def _drawn(flowable: Flowable, width: float) -> tuple[tuple[float, float], bytes]:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1, pageCompression=0)
    size = flowable.wrap(width, 1000)
    flowable.drawOn(canvas, 10, 400)
    canvas.showPage()
    canvas.save()
    return size, buffer.getvalue()


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("alignment", [TA_LEFT, TA_RIGHT])
def test_a_text_block_draws_what_a_paragraph_draws(text: str, width: float, alignment: int) -> None:
    register_fonts()
    style = ParagraphStyle(
        "probe", fontName=FONT, fontSize=7.5, leading=9.5, alignment=alignment, spaceAfter=2
    )
    block = text_flowable(text, style)
    assert isinstance(block, TextBlock)
    assert _drawn(block, width) == _drawn(Paragraph(markup(text), style), width)
    assert block.getSpaceAfter() == 2


@pytest.mark.parametrize("name", sorted(_styles()))
def test_every_house_style_takes_the_fast_path_and_matches(name: str) -> None:
    style = _styles()[name]
    text = "Hours statement for 2026-03, a heading long enough to wrap in a narrow column"
    block = text_flowable(text, style)
    assert isinstance(block, TextBlock)
    for width in WIDTHS:
        assert _drawn(block, width) == _drawn(Paragraph(markup(text), style), width)


@pytest.mark.parametrize(
    "text",
    [
        "Müller & Söhne",
        "a < b",
        "line\nbreak",
        "株式会社 Trading",
        "no\xa0break",
        "soft\xadhyphen",
    ],
)
def test_text_the_parser_would_split_stays_a_paragraph(text: str) -> None:
    register_fonts()
    style = ParagraphStyle("probe", fontName=FONT_BOLD, fontSize=8, leading=10)
    assert isinstance(text_flowable(text, style), Paragraph)


def test_a_centred_style_stays_a_paragraph() -> None:
    register_fonts()
    style = ParagraphStyle("probe", fontName=FONT, fontSize=8, leading=10, alignment=TA_CENTER)
    assert isinstance(text_flowable("centred", style), Paragraph)
