"""The hours bar chart, drawn straight onto the page.

Plain shapes rather than a charts widget: the layout is fixed (five bars, one scale), and shapes
keep the output exact and cheap to draw on every invoice.
"""

from __future__ import annotations

from reportlab.lib import colors

from invoices.pdf.document import HoursSummary
from invoices.pdf.layout import PageWriter, fill_operator

BAR_COLOURS: dict[str, colors.Color] = {
    "Granted": colors.HexColor("#8FA7C9"),
    "Used": colors.HexColor("#2F5D9E"),
    "Expired": colors.HexColor("#A3A9B0"),
    "Overage": colors.HexColor("#D9822B"),
    "Remaining": colors.HexColor("#4C9F70"),
}
_LABEL = fill_operator(colors.black)
_VALUE = fill_operator(colors.HexColor("#333333"))
_AXIS = colors.HexColor("#666666")
_FONT_SIZE = 7.5
_LABEL_WIDTH = 50.0
_VALUE_WIDTH = 34.0


def format_hours(minutes: int) -> str:
    """Minutes as h:mm ("465" -> "7:45"): exact for whole minutes, unlike rounded decimal hours."""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def draw_hours_chart(
    writer: PageWriter,
    hours: HoursSummary,
    *,
    x: float,
    y: float,
    width: float,
    height: float,
    font_name: str,
    bold_font_name: str,
) -> None:
    """Five bars on one scale, so overage and expiry read at a glance against the grant; (x, y)
    is the chart's bottom left corner."""
    values = [
        ("Granted", hours.granted_minutes),
        ("Used", hours.used_minutes),
        ("Expired", hours.expired_minutes),
        ("Overage", hours.overage_minutes),
        ("Remaining", hours.remaining_minutes),
    ]
    bar_left = x + _LABEL_WIDTH
    bar_span = width - _LABEL_WIDTH - _VALUE_WIDTH
    scale_minutes = max(max(max(minutes, 0) for _, minutes in values), 1)
    row_height = height / len(values)
    bar_height = row_height * 0.58
    for index, (label, minutes) in enumerate(values):
        row_bottom = y + height - (index + 1) * row_height
        bar_bottom = row_bottom + (row_height - bar_height) / 2
        text_y = bar_bottom + (bar_height - _FONT_SIZE * 0.7) / 2
        writer.text(x, text_y, ((label, font_name, _LABEL),), _FONT_SIZE)
        bar_width = bar_span * max(minutes, 0) / scale_minutes
        if bar_width > 0:
            writer.rect(bar_left, bar_bottom, bar_width, bar_height, BAR_COLOURS[label])
        value = ((format_hours(minutes), bold_font_name, _VALUE),)
        writer.text(bar_left + bar_width + 3, text_y, value, _FONT_SIZE)
    writer.vline(bar_left, y, y + height, 1, _AXIS)
