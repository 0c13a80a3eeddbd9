"""The template's line breaking: greedy, never wider than the column, every word kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reportlab.lib import colors

from invoices.pdf.layout import Style, fill_operator, text_width, wrap
from invoices.pdf.typeface import FALLBACK_FONT, FONT, register_fonts

STYLE = Style(FONT, 7.5, 9.5, colors.black)


@pytest.fixture(autouse=True, scope="module")
def _fonts() -> None:
    register_fonts()


def _text(lines: list) -> str:  # type: ignore[type-arg]
    return " ".join("".join(text for text, _, _ in line.segments) for line in lines)


def test_text_that_fits_is_one_line_with_runs_of_spaces_collapsed() -> None:
    [line] = wrap((("  allotment   2026-01 ", None),), STYLE, 200)
    assert line.segments == (("allotment 2026-01", FONT, STYLE.fill),)
    assert line.width == text_width("allotment 2026-01", FONT, 7.5)


def test_long_text_breaks_between_words_within_the_width() -> None:
    text = "allotment 2026-03 420 min, allotment 2026-04 480 min"
    lines = wrap(((text, None),), STYLE, 109)
    assert len(lines) == 2
    assert _text(lines) == text
    assert all(line.width <= 109 for line in lines)
    first = "".join(t for t, _, _ in lines[0].segments)
    rest = text[len(first) + 1 :].split()[0]
    assert text_width(f"{first} {rest}", FONT, 7.5) > 109  # greedy: the next word did not fit


def test_a_word_wider_than_the_column_is_cut_between_characters() -> None:
    word = "Supercalifragilisticexpialidocious" * 2
    lines = wrap(((word, None),), STYLE, 40)
    assert len(lines) > 2
    assert "".join(t for line in lines for t, _, _ in line.segments) == word
    assert all(line.width <= 40 for line in lines)


def test_runs_keep_their_colour_and_the_space_takes_the_word_before() -> None:
    muted = fill_operator(colors.grey)
    [line] = wrap((("Fix", None), (" (counted ×1.5)", muted)), STYLE, 300)
    assert line.segments == (("Fix ", FONT, STYLE.fill), ("(counted ×1.5)", FONT, muted))


def test_characters_dejavu_lacks_are_set_in_the_fallback() -> None:
    [line] = wrap((("株式会社 Trading", None),), STYLE, 300)
    assert line.segments == (
        ("株式会社 ", FALLBACK_FONT, STYLE.fill),
        ("Trading", FONT, STYLE.fill),
    )


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.text(
            st.characters(min_codepoint=0x21, max_codepoint=0x17F, categories=["L", "N", "P"]),
            min_size=1,
            max_size=14,
        ),
        max_size=12,
    ),
    width=st.floats(min_value=20, max_value=300),
)
def test_every_word_is_kept_in_order_and_no_line_overflows(words: list[str], width: float) -> None:
    lines = wrap(((" ".join(words), None),), STYLE, width)
    assert "".join(_text(lines).split()) == "".join(words)
    assert all(line.width <= width + 1e-9 for line in lines)
