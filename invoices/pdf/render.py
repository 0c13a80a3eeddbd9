"""Invoice and credit-note PDFs with ReportLab, as a pure function of a `PdfDocument`.

An issued invoice's PDF is stored with its SHA-256 and served as stored, so rendering must be
reproducible: the same document gives the same bytes in any process, on any day. That is why the
canvas runs in ReportLab's invariant mode (scoped to this document, not the global `rl_config`),
the creation date is the issue date, and the file identifier is derived from the document's
identity. TrueType subsets are named by their index (AAAAAA+, AAAAAB+...), not randomly, in
ReportLab, so the embedded fonts are stable too.

The page is laid out here, block by block, and drawn with `invoices.pdf.layout` straight onto the
canvas: the layout is fixed, so a general flowable engine (platypus) only cost time. Only two
things flow: the lines table and the hours statement, row by row over as many pages as they need,
their header repeated on every page.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import format_currency
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfgen.canvas import Canvas

from invoices.pdf.chart import draw_hours_chart, format_hours
from invoices.pdf.document import HoursSummary, PdfDocument, SlaSummary
from invoices.pdf.layout import Line, PageWriter, Style, fill_operator, text_width, wrap
from invoices.pdf.typeface import FONT, FONT_BOLD, register_fonts
from ledger.money import from_minor

TEMPLATE_VERSION = "4"
"""Bump on any change to the rendered bytes; a stored PDF records the version that made it."""
PAGE_LOCALE = "en"  # the page's words are English; so is the way it writes money

_INK = colors.HexColor("#222222")
_MUTED = colors.HexColor("#5F6B78")
_ACCENT = colors.HexColor("#1F3A5F")
_ZEBRA = colors.HexColor("#F3F5F8")
_RULE = colors.HexColor("#C9D0D8")
_SAMPLE_RED = colors.HexColor("#C0392B")
_WHITE = colors.white
_MUTED_FILL = fill_operator(_MUTED)
SAMPLE_MARK = "SAMPLE — not a valid invoice"

_PAGE_WIDTH, _PAGE_HEIGHT = A4
_MARGIN_X = 18 * mm
_MARGIN_TOP = 16 * mm
_MARGIN_BOTTOM = 20 * mm
_CONTENT_WIDTH = _PAGE_WIDTH - 2 * _MARGIN_X
_TOP = _PAGE_HEIGHT - _MARGIN_TOP
_LEFT = _MARGIN_X
_RIGHT = _PAGE_WIDTH - _MARGIN_X

_REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)."
)

_BASE = Style(FONT, 8.5, 11.5, _INK)
_SMALL = Style(FONT, 7.5, 10, _MUTED)
_LABEL = Style(FONT_BOLD, 7, 10, _MUTED)
_ISSUER = Style(FONT_BOLD, 13, 16, _INK)
_CUSTOMER = Style(FONT_BOLD, 10, 13, _INK)
_TITLE = Style(FONT_BOLD, 20, 24, _ACCENT)
_HEADING = Style(FONT_BOLD, 10.5, 13, _ACCENT)
_HEADING_BEFORE, _HEADING_AFTER = 9.0, 4.0
_NOTE = Style(FONT, 8, 10.5, _MUTED)
_FOOTER = Style(FONT, 7.5, 7.5, _MUTED)


class UnsupportedTemplateVersion(ValueError):
    """The document asks for a template this renderer is not; re-rendering would change the PDF."""


def render_pdf(doc: PdfDocument, *, finish: Callable[[Canvas], None] | None = None) -> bytes:
    """The PDF of an invoice or credit note: summary first, then the hours statement.

    `finish` may add to the document before it is written (the Factur-X parts do).
    """
    if doc.template_version != TEMPLATE_VERSION:
        raise UnsupportedTemplateVersion(
            f"document wants template {doc.template_version!r}, this is {TEMPLATE_VERSION!r}"
        )
    register_fonts()
    title = f"{_title(doc)} {doc.number}"
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1, initialFontName=FONT)
    canvas.setTitle(title)
    canvas.setAuthor(doc.issuer.name)
    canvas.setSubject(f"{title}, {doc.customer.name}, period {doc.period}")
    canvas.setCreator(f"Hourglass invoice template {TEMPLATE_VERSION}")
    _pin_identity(
        canvas,
        created_on_epoch=calendar.timegm(doc.issue_date.timetuple()),
        fingerprint=f"hourglass|{doc.kind}|{doc.number}|{TEMPLATE_VERSION}".encode(),
    )
    writer = PageWriter(canvas)
    _draw_document(_Flow(writer), doc)
    footer_text = f"{title} · {doc.issuer.name}"
    page_count = writer.page_number
    for number in range(1, page_count + 1):
        writer.select_page(number)
        if doc.sample:
            _draw_sample_mark(writer)
        _draw_footer(writer, footer_text, number, page_count)
    writer.finish()
    if finish is not None:
        finish(canvas)
    canvas.save()
    return buffer.getvalue()


def _pin_identity(canvas: Canvas, *, created_on_epoch: int, fingerprint: bytes) -> None:
    """Creation date = issue date and ID = f(document), whatever SOURCE_DATE_EPOCH says.

    Invariant mode alone stamps 2000-01-01 (or $SOURCE_DATE_EPOCH, which would make the bytes
    depend on the environment), so both are set here on the document ReportLab just made.
    """
    stamp = TimeStamp(invariant=1)
    utc = time.gmtime(created_on_epoch)
    stamp.t = created_on_epoch
    stamp.lt = utc
    stamp.YMDhms = tuple(utc)[:6]
    stamp.dhh = stamp.dmm = 0
    stamp.tzname = "UTC"
    canvas._doc._timeStamp = stamp
    canvas._doc.signature = hashlib.md5(fingerprint, usedforsecurity=False)


def _draw_footer(writer: PageWriter, text: str, number: int, page_count: int) -> None:
    y = _MARGIN_BOTTOM - 9 * mm
    writer.hline(_LEFT, _RIGHT, y + 4 * mm, 0.5, _RULE)
    writer.text(_LEFT, y, ((text, FONT, _FOOTER.fill),), _FOOTER.size)
    page = f"Page {number} of {page_count}"
    writer.text(
        _RIGHT - text_width(page, FONT, _FOOTER.size), y, ((page, FONT, _FOOTER.fill),), 7.5
    )


def _draw_sample_mark(writer: PageWriter) -> None:
    """A red banner above the header of every page: a sample issuer's document is no
    invoice. Horizontal, so text extraction still reads the page in order."""
    writer.rect(0, _PAGE_HEIGHT - 11 * mm, _PAGE_WIDTH, 8 * mm, _SAMPLE_RED)
    x = (_PAGE_WIDTH - text_width(SAMPLE_MARK, FONT_BOLD, 13)) / 2
    writer.text(x, _PAGE_HEIGHT - 8.6 * mm, ((SAMPLE_MARK, FONT_BOLD, fill_operator(_WHITE)),), 13)


# --- text helpers -------------------------------------------------------------------------------


def _title(doc: PdfDocument) -> str:
    return "Invoice" if doc.kind == "invoice" else "Credit note"


@functools.lru_cache(maxsize=4096)
def money(amount_minor: int, currency: str) -> str:
    """Money as printed everywhere on the page: the currency's symbol, grouping and decimals
    in the page's language (English): "€2,000.00", "¥1,500,000", "-€200.00"."""
    return str(
        format_currency(
            from_minor(amount_minor, currency), currency, locale=PAGE_LOCALE, currency_digits=True
        )
    )


def percent(rate: Decimal) -> str:
    """19.00 -> "19", 7.50 -> "7.5": no trailing zeros and never scientific notation."""
    text = format(rate.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _wrapped(text: str, style: Style, width: float) -> list[Line]:
    return wrap(((text, None),), style, width)


def _text_lines(texts: Sequence[str], style: Style, width: float) -> list[Line]:
    """Several texts one below the other (an address), each wrapped; empty ones left out."""
    return [line for text in texts if text for line in _wrapped(text, style, width)]


# --- tables -------------------------------------------------------------------------------------

Runs = tuple[tuple[str, str | None], ...]
"""Text in pieces, each with its fill operator (None: the cell's colour)."""


@dataclass(frozen=True, slots=True)
class _Cell:
    lines: list[Line]
    style: Style
    right: bool


@dataclass(frozen=True, slots=True)
class _Row:
    cells: list[_Cell]
    pad_top: float
    pad_bottom: float
    background: Color | None = None
    rule_above: tuple[float, Color] | None = None
    rule_below: tuple[float, Color] | None = None
    height: float = field(init=False)

    def __post_init__(self) -> None:
        text = max(max(len(cell.lines), 1) * cell.style.leading for cell in self.cells)
        object.__setattr__(self, "height", text + self.pad_top + self.pad_bottom)


@dataclass(frozen=True, slots=True)
class _Table:
    widths: tuple[float, ...]
    pad_x: float
    header: _Row | None
    rows: list[_Row]

    @property
    def width(self) -> float:
        return sum(self.widths)

    @property
    def height(self) -> float:
        return sum(row.height for row in self.rows) + (self.header.height if self.header else 0)

    def draw_row(self, writer: PageWriter, row: _Row, x: float, top: float) -> float:
        """`row` with its top edge at `top`; gives the top of the next row."""
        height = row.height
        bottom = top - height
        width = self.width
        if row.background is not None:
            writer.rect(x, bottom, width, height, row.background)
        if row.rule_above is not None:
            writer.hline(x, x + width, top, *row.rule_above)
        if row.rule_below is not None:
            writer.hline(x, x + width, bottom, *row.rule_below)
        left = x
        for cell, column_width in zip(row.cells, self.widths, strict=True):
            if cell.lines:
                if cell.right:
                    right = left + column_width - self.pad_x
                    writer.lines(left, top - row.pad_top, cell.lines, cell.style, right=right)
                else:
                    writer.lines(left + self.pad_x, top - row.pad_top, cell.lines, cell.style)
            left += column_width
        return bottom

    def draw(self, writer: PageWriter, x: float, top: float) -> None:
        """The whole table in one place (it never splits)."""
        for row in [self.header, *self.rows] if self.header else self.rows:
            top = self.draw_row(writer, row, x, top)


def _cell(content: str | Runs, style: Style, width: float, pad_x: float, right: bool) -> _Cell:
    """Text wraps in left-aligned cells; figures and headings stay on one line, as in a
    ReportLab table's plain string cells."""
    runs = ((content, None),) if isinstance(content, str) else content
    room = math.inf if right else width - 2 * pad_x
    return _Cell(wrap(runs, style, room), style, right)


def _house_table(
    header: Sequence[str],
    body: Sequence[Sequence[str | Runs]],
    *,
    widths: Sequence[float],
    right: Sequence[bool],
    size: float = 8,
    padding: float = 3.5,
    total: Sequence[str] | None = None,
) -> _Table:
    """The house table: navy header, zebra rows, numbers right-aligned, a rule below."""
    pad_x = 5.0
    widths = tuple(widths)
    body_style = Style(FONT, size, size + 2, _INK)
    header_style = Style(FONT_BOLD, size, size + 2, _WHITE)

    def row(cells: Sequence[str | Runs], style: Style, **options: object) -> _Row:
        made = [
            _cell(content, style, width, pad_x, align)
            for content, width, align in zip(cells, widths, right, strict=True)
        ]
        return _Row(made, padding, padding, **options)  # type: ignore[arg-type]

    head = _Row(
        [
            _cell(text, header_style, math.inf, 0, align)
            for text, align in zip(header, right, strict=True)
        ],
        padding,
        padding,
        background=_ACCENT,
    )
    rows = [
        row(cells, body_style, background=_ZEBRA if index % 2 else None)
        for index, cells in enumerate(body)
    ]
    if total is not None:
        total_style = Style(FONT_BOLD, size, size + 2, _INK)
        background = _ZEBRA if len(rows) % 2 else None
        rows.append(row(total, total_style, background=background, rule_above=(0.6, _ACCENT)))
    last = rows[-1]
    rows[-1] = _Row(
        last.cells, last.pad_top, last.pad_bottom, last.background, last.rule_above, (0.6, _ACCENT)
    )
    return _Table(widths, pad_x, head, rows)


# --- the flow of blocks down the pages ----------------------------------------------------------


class _Flow:
    """Where the next block goes; a block that does not fit starts a new page."""

    def __init__(self, writer: PageWriter) -> None:
        self.writer = writer
        self.y = _TOP

    @property
    def at_top(self) -> bool:
        return self.y >= _TOP

    def new_page(self) -> None:
        self.writer.new_page()
        self.y = _TOP

    def place(self, height: float) -> float:
        """The top of a block `height` high, on a new page if it does not fit on this one."""
        if self.y - height < _MARGIN_BOTTOM - 1e-6 and not self.at_top:
            self.new_page()
        top = self.y
        self.y -= height
        return top

    def skip(self, height: float) -> None:
        if not self.at_top:
            self.y -= height

    def heading_group(self, heading: str, content_height: float) -> float:
        """A heading kept with what follows it: gives the top of the content."""
        lines = _wrapped(heading, _HEADING, _CONTENT_WIDTH)
        heading_height = len(lines) * _HEADING.leading
        total = heading_height + _HEADING_AFTER + content_height
        if self.y - _HEADING_BEFORE - total < _MARGIN_BOTTOM - 1e-6 and not self.at_top:
            self.new_page()
        self.skip(_HEADING_BEFORE)
        self.writer.lines(_LEFT, self.y, lines, _HEADING)
        self.y -= heading_height + _HEADING_AFTER
        return self.y

    def table(self, table: _Table, x: float) -> None:
        """A table row by row, over pages; the header is repeated on each."""
        writer = self.writer
        header = table.header
        header_height = header.height if header else 0.0
        for index, row in enumerate(table.rows):
            needed = row.height + (header_height if index == 0 else 0)
            if self.y - needed < _MARGIN_BOTTOM - 1e-6 and not self.at_top:
                self.new_page()
            if header is not None and (index == 0 or self.at_top):
                self.y = table.draw_row(writer, header, x, self.y)
            self.y = table.draw_row(writer, row, x, self.y)


# --- the document -------------------------------------------------------------------------------


def _draw_document(flow: _Flow, doc: PdfDocument) -> None:
    _draw_header(flow, doc)
    flow.skip(8 * mm)
    _draw_parties(flow, doc)
    flow.skip(7 * mm)
    flow.table(_lines_table(doc), _LEFT)
    flow.skip(2 * mm)
    totals = _totals_table(doc)
    totals.draw(flow.writer, _RIGHT - totals.width, flow.place(totals.height))
    if doc.reverse_charge:
        flow.skip(2 * mm)
        _draw_text_block(flow, _wrapped(_REVERSE_CHARGE_NOTE, _NOTE, _CONTENT_WIDTH), _NOTE)
    if doc.hours is not None:
        _draw_hours(flow, doc, doc.hours)
    if doc.sla is not None:
        _draw_sla(flow, doc, doc.sla)
    if doc.issuer.bank_details or doc.payment_instructions:
        _draw_payment(flow, doc)
    if doc.statement or doc.hours is not None:
        flow.new_page()
        _draw_statement(flow, doc)


def _draw_text_block(flow: _Flow, lines: list[Line], style: Style) -> None:
    top = flow.place(len(lines) * style.leading)
    flow.writer.lines(_LEFT, top, lines, style)


def _draw_header(flow: _Flow, doc: PdfDocument) -> None:
    left_width = _CONTENT_WIDTH * 0.6
    details = [
        *doc.issuer.address_lines,
        f"VAT ID {doc.issuer.tax_id}" if doc.issuer.tax_id else "",
        doc.issuer.email or "",
    ]
    name = _wrapped(doc.issuer.name, _ISSUER, left_width)
    detail_lines = _text_lines(details, _SMALL, left_width)
    title = _wrapped(_title(doc), _TITLE, _CONTENT_WIDTH - left_width)
    name_height = len(name) * _ISSUER.leading + 2  # the issuer style's space after
    left_height = name_height + len(detail_lines) * _SMALL.leading
    top = flow.place(max(left_height, len(title) * _TITLE.leading))
    writer = flow.writer
    writer.lines(_LEFT, top, name, _ISSUER)
    writer.lines(_LEFT, top - name_height, detail_lines, _SMALL)
    writer.lines(_LEFT, top, title, _TITLE, right=_RIGHT)


def _draw_parties(flow: _Flow, doc: PdfDocument) -> None:
    customer = doc.customer
    left_width = _CONTENT_WIDTH - 72 * mm
    details = [
        *customer.address_lines,
        customer.country or "",
        f"VAT ID {customer.tax_id}" if customer.tax_id else "",
        customer.email or "",
    ]
    label = _wrapped("BILL TO" if doc.kind == "invoice" else "CREDITED TO", _LABEL, left_width)
    name = _wrapped(customer.name, _CUSTOMER, left_width)
    detail_lines = _text_lines(details, _BASE, left_width)
    label_height = len(label) * _LABEL.leading
    name_height = len(name) * _CUSTOMER.leading + 1  # the customer style's space after
    left_height = label_height + name_height + len(detail_lines) * _BASE.leading

    facts: list[tuple[str, str]] = [(f"{_title(doc)} number", doc.number)]
    if doc.credited_invoice_number:
        facts.append(("Credits invoice", doc.credited_invoice_number))
    facts.append(("Issue date", doc.issue_date.isoformat()))
    if doc.due_date is not None:
        facts.append(("Due date", doc.due_date.isoformat()))
    facts += [("Period", doc.period), ("Currency", doc.currency)]
    label_style = Style(FONT, 8.5, 12, _MUTED)
    value_style = Style(FONT_BOLD, 8.5, 12, _INK)
    widths = (32 * mm, 38 * mm)
    meta = _Table(
        widths,
        0,
        None,
        [
            _Row(
                [
                    _cell(fact, label_style, widths[0], 0, False),
                    _cell(value, value_style, widths[1], 0, True),
                ],
                1.5,
                1.5,
                rule_below=(0.4, _RULE),
            )
            for fact, value in facts
        ],
    )
    top = flow.place(max(left_height, meta.height))
    writer = flow.writer
    writer.lines(_LEFT, top, label, _LABEL)
    writer.lines(_LEFT, top - label_height, name, _CUSTOMER)
    writer.lines(_LEFT, top - label_height - name_height, detail_lines, _BASE)
    meta.draw(writer, _LEFT + left_width, top)


def _lines_table(doc: PdfDocument) -> _Table:
    body: list[list[str | Runs]] = [
        [
            line.description,
            line.quantity,
            "" if line.unit_price_minor is None else money(line.unit_price_minor, doc.currency),
            money(line.amount_minor, doc.currency),
        ]
        for line in doc.lines
    ]
    if not doc.lines:
        body.append(["No lines.", "", "", ""])
    return _house_table(
        ["Description", "Quantity", "Unit price", "Amount"],
        body,
        widths=[_CONTENT_WIDTH - 84 * mm, 22 * mm, 30 * mm, 32 * mm],
        right=[False, True, True, True],
    )


def _totals_table(doc: PdfDocument) -> _Table:
    rows: list[tuple[str, str]] = [("Subtotal", money(doc.subtotal_minor, doc.currency))]
    if not doc.reverse_charge:
        rows.append(
            (f"Tax ({percent(doc.tax_rate_percent)} %)", money(doc.tax_minor, doc.currency))
        )
    widths = (40 * mm, 32 * mm)
    muted = Style(FONT, 8.5, 12, _MUTED)
    total = Style(FONT_BOLD, 10.5, 12, _ACCENT)

    def row(label: str, value: str, style: Style, pad_top: float, **options: object) -> _Row:
        cells = [_cell(label, style, widths[0], 5, False), _cell(value, style, widths[1], 5, True)]
        return _Row(cells, pad_top, 2.5, **options)  # type: ignore[arg-type]

    made = [row(label, value, muted, 2.5) for label, value in rows]
    made.append(
        row("Total", money(doc.total_minor, doc.currency), total, 5, rule_above=(0.8, _ACCENT))
    )
    return _Table(widths, 5, None, made)


def _draw_hours(flow: _Flow, doc: PdfDocument, hours: HoursSummary) -> None:
    figures = [
        ("Granted", hours.granted_minutes),
        ("Used", hours.used_minutes),
        ("Expired", hours.expired_minutes),
        ("Overage", hours.overage_minutes),
        ("Remaining", hours.remaining_minutes),
    ]
    table = _house_table(
        ["Hours", "h:mm", "Minutes"],
        [[label, format_hours(minutes), str(minutes)] for label, minutes in figures],
        widths=[30 * mm, 22 * mm, 26 * mm],
        right=[False, True, True],
    )
    pool = _wrapped(f"Pool: {hours.pool}", _NOTE, _CONTENT_WIDTH) if hours.pool else []
    pool_height = 2 * mm + len(pool) * _NOTE.leading if pool else 0
    top = flow.heading_group(f"Hours for {doc.period}", table.height + pool_height)
    writer = flow.writer
    table.draw(writer, _LEFT, top)
    # One chart bar per table row: the chart starts below the header row.
    assert table.header is not None
    row_height = table.header.height
    chart_left = _LEFT + 90 * mm
    draw_hours_chart(
        writer,
        hours,
        x=chart_left,
        y=top - 6 * row_height,
        width=_RIGHT - chart_left,
        height=5 * row_height,
        font_name=FONT,
        bold_font_name=FONT_BOLD,
    )
    flow.y = top - table.height
    if pool:
        flow.y -= 2 * mm
        writer.lines(_LEFT, flow.y, pool, _NOTE)
        flow.y -= len(pool) * _NOTE.leading


def _draw_sla(flow: _Flow, doc: PdfDocument, sla: SlaSummary) -> None:
    half = (_CONTENT_WIDTH - 8 * mm) / 2
    availability: _Table | list[Line]
    if sla.components:
        availability = _house_table(
            ["Component", "Availability", "Credit"],
            [
                [
                    component.name,
                    f"{component.availability_percent} %",
                    money(component.credit_minor, doc.currency),
                ]
                for component in sla.components
            ],
            widths=[half - 54 * mm, 24 * mm, 30 * mm],
            right=[False, True, True],
        )
    else:
        availability = _wrapped("No availability commitment in this period.", _NOTE, half)
    response: _Table | list[Line]
    if sla.tickets:
        response = _house_table(
            ["Severity", "Tickets", "Met", "Breached"],
            [
                [row.severity, str(row.tickets), str(row.met), str(row.breached)]
                for row in sla.tickets
            ],
            widths=[half - 54 * mm, 18 * mm, 18 * mm, 18 * mm],
            right=[False, True, True, True],
        )
    else:
        response = _wrapped("No tickets in this period.", _NOTE, half)

    def height(part: _Table | list[Line]) -> float:
        return part.height if isinstance(part, _Table) else len(part) * _NOTE.leading

    top = flow.heading_group(
        f"Service levels for {doc.period}", max(height(availability), height(response))
    )
    for part, x in ((availability, _LEFT), (response, _LEFT + half + 8 * mm)):
        if isinstance(part, _Table):
            part.draw(flow.writer, x, top)
        else:
            flow.writer.lines(x, top, part, _NOTE)
    flow.y = top - max(height(availability), height(response))


def _draw_payment(flow: _Flow, doc: PdfDocument) -> None:
    instructions = _text_lines(doc.payment_instructions, _BASE, _CONTENT_WIDTH)
    bank = _text_lines(doc.issuer.bank_details, _BASE, _CONTENT_WIDTH)
    gap = 1.5 * mm if instructions and bank else 0
    content = (len(instructions) + len(bank)) * _BASE.leading + gap
    top = flow.heading_group("Payment", content)
    flow.writer.lines(_LEFT, top, instructions, _BASE)
    flow.writer.lines(_LEFT, top - len(instructions) * _BASE.leading - gap, bank, _BASE)
    flow.y = top - content


_STATEMENT_WIDTHS = [19 * mm, 22 * mm, 11 * mm, 15 * mm, _CONTENT_WIDTH - 109 * mm, 42 * mm]


def _draw_statement(flow: _Flow, doc: PdfDocument) -> None:
    total_minutes = sum(entry.minutes for entry in doc.statement)
    body: list[list[str | Runs]] = []
    for entry in doc.statement:
        description: str | Runs = entry.description
        if entry.multiplier:
            description = (
                (entry.description, None),
                (f" (counted {entry.multiplier})", _MUTED_FILL),
            )
        body.append(
            [
                entry.worked_on.isoformat(),
                entry.ticket_ref,
                str(entry.level),
                str(entry.minutes),
                description,
                entry.covered_by,
            ]
        )
    summary = (
        f"{doc.customer.name} · {_title(doc)} {doc.number} · "
        f"{len(doc.statement)} work {'entry' if len(doc.statement) == 1 else 'entries'}, "
        f"{total_minutes} minutes "
        f"({format_hours(total_minutes)} h)"
    )
    table = _house_table(
        ["Date", "Ticket", "Level", "Minutes", "Description", "Covered by"],
        body,
        widths=_STATEMENT_WIDTHS,
        right=[False, False, True, True, False, False],
        size=7.5,
        padding=2.5,
        total=["Total", "", "", str(total_minutes), "", ""],
    )
    flow.heading_group(f"Hours statement for {doc.period}", 0)
    _draw_text_block(flow, _wrapped(summary, _SMALL, _CONTENT_WIDTH), _SMALL)
    flow.skip(3 * mm)
    flow.table(table, _LEFT)
