"""The hours bar chart, drawn with ReportLab's own vector graphics.

Plain shapes rather than a charts widget: the layout is fixed (five bars, one scale), and shapes
keep the output exact and cheap to draw on every invoice.
"""

from __future__ import annotations

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors

from invoices.pdf.document import HoursSummary

BAR_COLOURS: dict[str, colors.Color] = {
    "Granted": colors.HexColor("#8FA7C9"),
    "Used": colors.HexColor("#2F5D9E"),
    "Expired": colors.HexColor("#A3A9B0"),
    "Overage": colors.HexColor("#D9822B"),
    "Remaining": colors.HexColor("#4C9F70"),
}


def format_hours(minutes: int) -> str:
    """Minutes as h:mm ("465" -> "7:45"): exact for whole minutes, unlike rounded decimal hours."""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def hours_chart(
    hours: HoursSummary,
    *,
    width: float,
    height: float,
    font_name: str,
    bold_font_name: str,
) -> Drawing:
    """Five bars on one scale, so overage and expiry read at a glance against the grant."""
    values = [
        ("Granted", hours.granted_minutes),
        ("Used", hours.used_minutes),
        ("Expired", hours.expired_minutes),
        ("Overage", hours.overage_minutes),
        ("Remaining", hours.remaining_minutes),
    ]
    font_size = 7.5
    label_width = 50.0
    value_width = 34.0
    bar_left = label_width
    bar_span = width - label_width - value_width
    scale_minutes = max(max(max(minutes, 0) for _, minutes in values), 1)
    row_height = height / len(values)
    bar_height = row_height * 0.58

    drawing = Drawing(width, height)
    # The renderer starts every drawing in Helvetica unless told otherwise; that would reference a
    # non-embedded font in the PDF.
    drawing.initialFontName = font_name
    drawing.initialFontSize = font_size
    for index, (label, minutes) in enumerate(values):
        row_bottom = height - (index + 1) * row_height
        bar_bottom = row_bottom + (row_height - bar_height) / 2
        text_y = bar_bottom + (bar_height - font_size * 0.7) / 2
        drawing.add(
            String(0, text_y, label, fontName=font_name, fontSize=font_size, fillColor=colors.black)
        )
        bar_width = bar_span * max(minutes, 0) / scale_minutes
        if bar_width > 0:
            drawing.add(
                Rect(
                    bar_left,
                    bar_bottom,
                    bar_width,
                    bar_height,
                    fillColor=BAR_COLOURS[label],
                    strokeColor=None,
                )
            )
        drawing.add(
            String(
                bar_left + bar_width + 3,
                text_y,
                format_hours(minutes),
                fontName=bold_font_name,
                fontSize=font_size,
                fillColor=colors.HexColor("#333333"),
            )
        )
    drawing.add(Line(bar_left, 0, bar_left, height, strokeColor=colors.HexColor("#666666")))
    return drawing
