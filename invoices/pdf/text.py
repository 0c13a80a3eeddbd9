"""A plain-text paragraph that costs a fraction of a platypus `Paragraph` and draws the same bytes.

Most text on an invoice is one run in one font: a name, a heading, a statement cell. A `Paragraph`
parses markup through an HTML parser and builds fragment objects for each, which is most of what
the template costs. `TextBlock` breaks and draws such a run exactly as ReportLab's single-fragment
path does (same greedy break with its 5 % space shrinkage, same text operators), so the PDF is
byte for byte what `Paragraph` would give; anything else (markup, fallback glyphs, words longer
than the column) goes to a real `Paragraph`.
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph
from reportlab.platypus.paragraph import split as _split_words
from reportlab.platypus.paragraph import strip as _strip

from invoices.pdf.typeface import markup, needs_fallback

_MARKUP_CHARS = frozenset("&<>")
_FUZZ = 1e-6  # ReportLab's `_FUZZ`: narrower than this and a paragraph cannot be placed
_SIMPLE_STYLE = {
    "leftIndent": 0,
    "rightIndent": 0,
    "firstLineIndent": 0,
    "bulletText": None,
    "wordWrap": None,
    "endDots": None,
    "backColor": None,
    "borderWidth": 0,
    "autoLeading": "",
    "justifyLastLine": 0,
    "embeddedHyphenation": 0,
    "uriWasteReduce": 0,
    "hyphenationLang": "",
    "shaping": 0,
}


def text_flowable(text: str, style: ParagraphStyle) -> Flowable:
    """A `TextBlock` when the text and style allow it, else the `Paragraph` of `markup(text)`."""
    if _is_simple(text) and _simple_style(style):
        return TextBlock(text, style)
    return Paragraph(markup(text), style)


def _is_simple(text: str) -> bool:
    """One fragment for the parser: no fallback run, no entity (the parser splits "&amp;" into
    fragments of its own, drawn another way) and no whitespace but spaces."""
    return (
        not needs_fallback(text)
        and _MARKUP_CHARS.isdisjoint(text)
        and text.isprintable()  # so no whitespace but " " (nor soft hyphens, nor controls)
    )


def _simple_style(style: ParagraphStyle) -> bool:
    if style.alignment not in (TA_LEFT, TA_RIGHT):
        return False
    return all(getattr(style, name, None) in (value, None) for name, value in _SIMPLE_STYLE.items())


class TextBlock(Flowable):  # type: ignore[misc]
    """One run of plain text in one style, wrapped to the width it is given."""

    def __init__(self, text: str, style: ParagraphStyle) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self._words = _split_words(_strip(text))
        self._lines: list[tuple[float, list[str]]] = []
        self._broken_for: float | None = None
        self._paragraph: Paragraph | None = None

    def _as_paragraph(self) -> Paragraph:
        if self._paragraph is None:
            self._paragraph = Paragraph(markup(self.text), self.style)
        return self._paragraph

    def getSpaceBefore(self) -> float:
        return float(self.style.spaceBefore)

    def getSpaceAfter(self) -> float:
        return float(self.style.spaceAfter)

    def minWidth(self) -> float:
        return float(self._as_paragraph().minWidth())

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if availWidth < _FUZZ:
            return 0, 0x7FFFFFFF
        self.width = availWidth
        if self._broken_for != availWidth:
            lines = self._break(availWidth)
            if lines is None:  # a word wider than the column: ReportLab splits it
                self._paragraph = self._as_paragraph()
                return self._paragraph.wrap(availWidth, availHeight)  # type: ignore[no-any-return]
            self._paragraph = None
            self._lines = lines
            self._broken_for = availWidth
        self.height = len(self._lines) * self.style.leading
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Any]:
        return self._as_paragraph().split(availWidth, availHeight)  # type: ignore[no-any-return]

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:
        if self._paragraph is not None:
            self._paragraph.drawOn(canvas, x, y, _sW)
        else:
            super().drawOn(canvas, x, y, _sW)

    def _break(self, max_width: float) -> list[tuple[float, list[str]]] | None:
        """`Paragraph.breakLines` for one fragment; None when a word alone overflows."""
        style = self.style
        font_name, font_size = style.fontName, style.fontSize
        space_width = stringWidth(" ", font_name, font_size)
        space_shrink = style.spaceShrinkage * space_width
        lines: list[tuple[float, list[str]]] = []
        line: list[str] = []
        current = -space_width
        for word in self._words:
            word_width = stringWidth(word, font_name, font_size)
            new_width = current + space_width + word_width
            if new_width > max_width + space_shrink * len(line):
                if word_width > max_width:
                    return None
                if line:
                    lines.append((max_width - current, line))
                    line = [word]
                    current = word_width
                    continue
            line.append(word)
            current = new_width
        if line:
            lines.append((max_width - current, line))
        return lines

    def draw(self) -> None:
        """`Paragraph.drawPara` for one left- or right-aligned fragment, operator for operator."""
        if not self._lines:
            return
        canvas = self.canv
        style = self.style
        canvas.saveState()
        canvas.setFillColor(style.textColor)
        text = canvas.beginText(0, self.height - style.fontSize)
        text.preformatted = False
        text.direction = None
        text.setFont(style.fontName, style.fontSize, style.leading)
        right = style.alignment == TA_RIGHT
        for extra, words in self._lines:
            line = " ".join(words)
            spaces = len(words) - 1
            simple = extra > -1e-8 or spaces <= 0
            shift = extra if right and simple else 0.0
            if not simple:
                text.setWordSpace(extra / float(spaces))
            if shift > 1e-6 or shift < -1e-6:
                text.setXPos(shift)
            text._textOut(line, 1)
            if not simple:
                text.setWordSpace(0)
            if shift > 1e-6 or shift < -1e-6:
                text.setXPos(-shift)
        canvas.drawText(text)
        canvas.restoreState()
