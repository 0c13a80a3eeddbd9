"""`styled_table` styles by bands of like cells; the table it gives draws what setStyle's does."""

from __future__ import annotations

import io
from typing import Any

import pytest
from reportlab.lib import colors
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Table, TableStyle

from invoices.pdf.tables import styled_table
from invoices.pdf.typeface import FONT, FONT_BOLD, register_fonts

ROWS = [["Head", "h:mm", "Minutes", "More"]] + [
    [f"row {index}", f"{index}:00", str(index * 60), "x" * index] for index in range(7)
]
COMMANDS: list[list[tuple[Any, ...]]] = [
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("BACKGROUND", (0, 0), (-1, 0), colors.navy),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.lightgrey]),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("ALIGN", (3, 0), (-1, -1), "LEFT"),
        ("FONTNAME", (0, -1), (-1, -1), FONT_BOLD),
        ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.navy),
    ],
    [
        ("FONT", (0, 0), (-1, -1), FONT, 9, 12),
        ("TEXTCOLOR", (1, 2), (2, 4), colors.red),
        ("LEFTPADDING", (2, 0), (2, -1), 0),
        ("TOPPADDING", (0, 3), (-1, 3), 9),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (-2, -3), (-1, -2), "CENTER"),
        ("FONTNAME", (0, 5), (-1, 200), FONT_BOLD),  # a range past the end, clipped
    ],
]


def _drawn(table: Table) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1, pageCompression=0)
    table.wrapOn(canvas, 400, 800)
    table.drawOn(canvas, 20, 200)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@pytest.mark.parametrize("commands", COMMANDS)
def test_a_banded_table_draws_what_set_style_draws(commands: list[tuple[Any, ...]]) -> None:
    register_fonts()
    widths = [60.0, 50.0, 50.0, 40.0]
    reference = Table([list(row) for row in ROWS], colWidths=widths, hAlign="LEFT")
    reference.setStyle(TableStyle(commands))
    banded = styled_table(ROWS, col_widths=widths, commands=commands, hAlign="LEFT")
    assert _drawn(banded) == _drawn(reference)
