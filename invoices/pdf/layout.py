"""The page machinery of the invoice template: measured text, wrapped lines and a page writer
that puts PDF operators straight into a ReportLab canvas.

Platypus (tables, paragraphs, frames) measured and drew every cell through several layers of
objects; the invoice's layout is fixed, so the template places its blocks itself and this module
only has to do three things well:

- measure text once (`text_width` is cached per process) and break it greedily into lines,
  setting any run DejaVu Sans cannot draw in the embedded fallback font;
- write text as one `BT … ET` block per page, switching font and colour only when they change,
  and encode a string for a TrueType subset with one `str.translate` once its characters have
  been assigned glyph codes by ReportLab (`TTFont.splitString` does the assigning, so subsets and
  their names stay exactly ReportLab's, deterministic per document);
- collect every page's operators, so the footer can say "Page N of M" once M is known.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib.colors import Color
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from invoices.pdf.typeface import FALLBACK_FONT, fallback_runs

_WHITESPACE = re.compile(r"\s+")

Segment = tuple[str, str, str]
"""A piece of a line drawn in one font and colour: (text, font name, fill operator)."""


@functools.lru_cache(maxsize=256)
def fill_operator(color: Color) -> str:
    """The PDF operator that sets `color` as the fill colour ("0.1 0.2 0.3 rg")."""
    return f"{fp_str(color.red, color.green, color.blue)} rg"


@functools.lru_cache(maxsize=256)
def _stroke(color: Color) -> str:
    return f"{fp_str(color.red, color.green, color.blue)} RG"


@dataclass(frozen=True, slots=True)
class Style:
    font: str
    size: float
    leading: float
    color: Color
    fill: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fill", fill_operator(self.color))


@dataclass(frozen=True, slots=True)
class Line:
    segments: tuple[Segment, ...]
    width: float


@functools.lru_cache(maxsize=16384)
def text_width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))


def _segments_of(text: str, font: str, fill: str) -> list[Segment]:
    """`text` in `font`, with the runs the font lacks glyphs for in the fallback font."""
    return [
        (run, FALLBACK_FONT if fallback else font, fill) for run, fallback in fallback_runs(text)
    ]


def wrap(runs: Sequence[tuple[str, str | None]], style: Style, width: float) -> list[Line]:
    """Greedy lines no wider than `width` (a word wider than that is cut between characters).

    `runs` are pieces of text with their fill operator (None: the style's colour); words are
    separated by whitespace, and a space takes the font and colour of the word before it.
    """
    if len(runs) == 1 and runs[0][1] is None:
        return _wrap_text(runs[0][0], style.font, style.size, style.fill, width)
    return _wrap(runs, style.font, style.size, style.fill, width)


@functools.lru_cache(maxsize=8192)
def _wrap_text(text: str, font: str, size: float, fill: str, width: float) -> list[Line]:
    """One run's lines, cached: the same cells (dates, "overage", headings) come back on every
    invoice. Lines are immutable and no caller changes the list."""
    plain = " ".join(text.split())
    segments = _segments_of(plain, font, fill)
    if len(segments) == 1:
        segment = segments[0]
        line_width = text_width(plain, segment[1], size)
        if line_width <= width:
            return [Line((segment,), line_width)] if plain else []
    return _wrap(((text, None),), font, size, fill, width)


def _wrap(
    runs: Sequence[tuple[str, str | None]], face: str, size: float, fill: str, width: float
) -> list[Line]:
    words: list[list[Segment]] = [[]]
    for text, run_fill in runs:
        for piece, piece_font, piece_fill in _segments_of(text, face, run_fill or fill):
            for index, part in enumerate(_WHITESPACE.split(piece)):
                if index > 0 and words[-1]:
                    words.append([])
                if part:
                    words[-1].append((part, piece_font, piece_fill))
    if not words[-1]:
        words.pop()
    lines: list[Line] = []
    current: list[Segment] = []
    current_width = 0.0
    for word in words:
        word_width = sum(text_width(text, f, size) for text, f, _ in word)
        if current:
            _, last_font, last_color = current[-1]
            space = text_width(" ", last_font, size)
            if current_width + space + word_width <= width:
                current.append((" ", last_font, last_color))
                current.extend(word)
                current_width += space + word_width
                continue
            lines.append(_line(current, current_width))
            current, current_width = [], 0.0
        if word_width <= width:
            current, current_width = list(word), word_width
            continue
        for chunk, chunk_width in _cut(word, size, width):  # a word wider than the column
            if current:
                lines.append(_line(current, current_width))
            current, current_width = chunk, chunk_width
    if current:
        lines.append(_line(current, current_width))
    return lines


def _cut(word: list[Segment], size: float, width: float) -> list[tuple[list[Segment], float]]:
    chunks: list[tuple[list[Segment], float]] = []
    chunk: list[Segment] = []
    chunk_width = 0.0
    for text, font, color in word:
        for char in text:
            char_width = text_width(char, font, size)
            if chunk and chunk_width + char_width > width:
                chunks.append((chunk, chunk_width))
                chunk, chunk_width = [], 0.0
            chunk.append((char, font, color))
            chunk_width += char_width
    if chunk:
        chunks.append((chunk, chunk_width))
    return chunks


def _line(segments: list[Segment], width: float) -> Line:
    """Adjacent segments in the same font and colour merged into one."""
    merged: list[Segment] = []
    for text, font, color in segments:
        if merged and merged[-1][1] == font and merged[-1][2] == color:
            merged[-1] = (merged[-1][0] + text, font, color)
        else:
            merged.append((text, font, color))
    return Line(tuple(merged), width)


class _Encoder:
    """Strings as the bytes of a TrueType subset, for one document.

    ReportLab's `splitString` assigns each new character its code in the document's subset
    (which is what gets embedded); after that a character's code never changes, so strings of
    known characters are encoded with one `translate` instead of a Python loop per character.
    """

    def __init__(self, canvas: Canvas) -> None:
        self._doc = canvas._doc
        self._fonts: dict[str, Any] = {}
        self._known: dict[str, set[str]] = {}
        self._tables: dict[str, dict[int, str]] = {}
        self._names: dict[tuple[str, int], str] = {}

    def chunks(self, text: str, font_name: str) -> list[tuple[str, bytes]]:
        """(subset font resource name, encoded bytes) pieces of `text`."""
        known = self._known.get(font_name)
        if known is None:
            self._fonts[font_name] = pdfmetrics.getFont(font_name)
            known = self._known[font_name] = set()
            self._tables[font_name] = {}
        if known.issuperset(text):
            encoded = text.translate(self._tables[font_name]).encode("latin-1")
            return [(self._name(font_name, 0), encoded)]
        font = self._fonts[font_name]
        pieces = font.splitString(text, self._doc)
        state = font.state[self._doc]
        table = self._tables[font_name]
        for char in set(text):
            code = 32 if char == "\xa0" else ord(char)
            glyph = state.assignments.get(code, 0)
            if glyph < 256:
                table[ord(char)] = chr(glyph)
                known.add(char)
        return [(self._name(font_name, subset), data) for subset, data in pieces]

    def _name(self, font_name: str, subset: int) -> str:
        key = (font_name, subset)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = self._fonts[font_name].getSubsetInternalName(
                subset, self._doc
            )
        return name


class PageWriter:
    """Operators for the pages of one document; `finish` hands them to the canvas.

    Shapes of a page are written before its text (one text object), so text is never hidden by
    a background drawn after it.
    """

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self._encoder = _Encoder(canvas)
        self.pages: list[tuple[list[str], list[str]]] = []
        self.new_page()

    def new_page(self) -> None:
        self.pages.append(([], []))
        self.select_page(len(self.pages))

    def select_page(self, number: int) -> None:
        """Draw on page `number` (from 1) from now on, e.g. its footer once all are laid out."""
        self._shapes, self._text = self.pages[number - 1]
        self._font: tuple[str, float] | None = None
        self._fill = ""

    @property
    def page_number(self) -> int:
        return len(self.pages)

    def text(self, x: float, y: float, segments: Sequence[Segment], size: float) -> None:
        """One line of text with its baseline starting at (x, y)."""
        out = self._text
        out.append(f"1 0 0 1 {fp_str(x, y)} Tm")
        for text, font, fill in segments:
            if fill != self._fill:
                out.append(fill)
                self._fill = fill
            for name, data in self._encoder.chunks(text, font):
                if self._font != (name, size):
                    out.append(f"{name} {fp_str(size)} Tf")
                    self._font = (name, size)
                out.append(f"({escapePDF(data)}) Tj")

    def lines(
        self, x: float, top: float, lines: Sequence[Line], style: Style, *, right: float = 0
    ) -> None:
        """Wrapped lines below `top`, left-aligned at x or, with `right`, right-aligned to it."""
        y = top - style.size
        for line in lines:
            self.text(right - line.width if right else x, y, line.segments, style.size)
            y -= style.leading

    def rect(self, x: float, y: float, width: float, height: float, color: Color) -> None:
        self._shapes.append(f"{fill_operator(color)} {fp_str(x, y, width, height)} re f")

    def hline(self, x0: float, x1: float, y: float, width: float, color: Color) -> None:
        self._shapes.append(
            f"{_stroke(color)} {fp_str(width)} w {fp_str(x0, y)} m {fp_str(x1, y)} l S"
        )

    def vline(self, x: float, y0: float, y1: float, width: float, color: Color) -> None:
        self._shapes.append(
            f"{_stroke(color)} {fp_str(width)} w {fp_str(x, y0)} m {fp_str(x, y1)} l S"
        )

    def finish(self) -> None:
        """Every page into the canvas, in order."""
        canvas = self.canvas
        for shapes, text in self.pages:
            code = ["q", *shapes, "Q"] if shapes else []
            if text:
                code += ["BT", *text, "ET"]
            canvas._code.append(" ".join(code))
            canvas.showPage()
