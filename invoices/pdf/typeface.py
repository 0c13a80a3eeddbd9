"""Which embedded font draws which character: DejaVu Sans for Latin, Greek and Cyrillic, Droid
Sans Fallback (TrueType outlines, Apache 2.0) for what DejaVu lacks, e.g. Japanese and Chinese.

The fallback is 3.4 MB and takes a quarter of a second to load, so it is registered only when a
document needs it; ReportLab embeds only the glyphs used, named deterministically.
"""

from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "HourglassSans"
FONT_BOLD = "HourglassSans-Bold"
FALLBACK_FONT = "HourglassFallback"
_FONT_DIR = Path(__file__).with_name("fonts")


@functools.cache
def register_fonts() -> None:
    """Embed DejaVu Sans so any Latin name prints; the base-14 fonts only cover WinAnsi."""
    pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


@functools.cache
def _register_fallback() -> None:
    font = TTFont(FALLBACK_FONT, str(_FONT_DIR / "DroidSansFallback.ttf"))
    pdfmetrics.registerFont(font)
    # One face for every style: a bold run in the fallback stays the same face.
    pdfmetrics.registerFontFamily(
        FALLBACK_FONT,
        normal=FALLBACK_FONT,
        bold=FALLBACK_FONT,
        italic=FALLBACK_FONT,
        boldItalic=FALLBACK_FONT,
    )


@functools.cache
def _main_coverage() -> frozenset[int]:
    register_fonts()
    font = pdfmetrics.getFont(FONT)
    return frozenset(font.face.charToGlyph)


def needs_fallback(text: str) -> bool:
    covered = _main_coverage()
    if (text.isascii() and text.isprintable()) or covered.issuperset(map(ord, text)):
        return False  # the usual case, decided at C speed
    return any(ord(ch) not in covered and not ch.isspace() for ch in text)


def fallback_runs(text: str) -> list[tuple[str, bool]]:
    """`text` cut into runs, each with whether it needs the fallback font (then registered)."""
    if not needs_fallback(text):
        return [(text, False)]
    _register_fallback()
    covered = _main_coverage()
    runs: list[tuple[str, bool]] = []
    run: list[str] = []
    in_fallback = False
    for ch in text:
        fallback = ord(ch) not in covered and not ch.isspace()
        if fallback != in_fallback and run:
            runs.append(("".join(run), in_fallback))
            run = []
        in_fallback = fallback
        run.append(ch)
    if run:
        runs.append(("".join(run), in_fallback))
    return runs
