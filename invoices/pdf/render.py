"""Invoice and credit-note PDFs with ReportLab, as a pure function of a `PdfDocument`.

An issued invoice's PDF is stored with its SHA-256 and served as stored, so rendering must be
reproducible: the same document gives the same bytes in any process, on any day. That is why the
canvas runs in ReportLab's invariant mode (scoped to this document, not the global `rl_config`),
the creation date is the issue date, and the file identifier is derived from the document's
identity. TrueType subsets are named by their index (AAAAAA+, AAAAAB+...), not randomly, in
ReportLab, so the embedded fonts are stable too.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import io
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
)

from invoices.pdf.chart import format_hours, hours_chart
from invoices.pdf.document import HoursSummary, PdfDocument, SlaSummary, StatementEntry
from invoices.pdf.tables import styled_table
from invoices.pdf.text import text_flowable
from invoices.pdf.typeface import FONT, FONT_BOLD, markup, needs_fallback, register_fonts
from ledger.money import from_minor

TEMPLATE_VERSION = "3"
PAGE_LOCALE = "en"  # the page's words are English; so is the way it writes money
"""Bump on any change to the rendered bytes; a stored PDF records the version that made it."""


_INK = colors.HexColor("#222222")
_MUTED = colors.HexColor("#5F6B78")
_ACCENT = colors.HexColor("#1F3A5F")
_ZEBRA = colors.HexColor("#F3F5F8")
_RULE = colors.HexColor("#C9D0D8")
_SAMPLE_RED = colors.HexColor("#C0392B")
SAMPLE_MARK = "SAMPLE — not a valid invoice"

_PAGE_WIDTH, _PAGE_HEIGHT = A4
_MARGIN_X = 18 * mm
_MARGIN_TOP = 16 * mm
_MARGIN_BOTTOM = 20 * mm
_CONTENT_WIDTH = _PAGE_WIDTH - 2 * _MARGIN_X

_REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)."
)


class UnsupportedTemplateVersion(ValueError):
    """The document asks for a template this renderer is not; re-rendering would change the PDF."""


def render_pdf(doc: PdfDocument) -> bytes:
    """The PDF of an invoice or credit note: summary first, then the hours statement."""
    if doc.template_version != TEMPLATE_VERSION:
        raise UnsupportedTemplateVersion(
            f"document wants template {doc.template_version!r}, this is {TEMPLATE_VERSION!r}"
        )
    register_fonts()
    title = f"{_title(doc)} {doc.number}"
    buffer = io.BytesIO()
    # No frame padding: tables span exactly the margins, aligned with the footer rule.
    frame = Frame(
        _MARGIN_X,
        _MARGIN_BOTTOM,
        _CONTENT_WIDTH,
        _PAGE_HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="content",
    )
    template = BaseDocTemplate(
        buffer,
        pagesize=A4,
        pageTemplates=[PageTemplate(id="page", frames=[frame])],
        leftMargin=_MARGIN_X,
        rightMargin=_MARGIN_X,
        topMargin=_MARGIN_TOP,
        bottomMargin=_MARGIN_BOTTOM,
        title=title,
        author=doc.issuer.name,
        subject=f"{title}, {doc.customer.name}, period {doc.period}",
        creator=f"Hourglass invoice template {TEMPLATE_VERSION}",
        invariant=1,
        pageCompression=1,
        initialFontName=FONT,
    )
    canvasmaker = functools.partial(
        _NumberedCanvas,
        footer_text=f"{title} · {doc.issuer.name}",
        created_on_epoch=calendar.timegm(doc.issue_date.timetuple()),
        fingerprint=f"hourglass|{doc.kind}|{doc.number}|{TEMPLATE_VERSION}".encode(),
        sample=doc.sample,
    )
    template.build(_story(doc), canvasmaker=canvasmaker)
    return buffer.getvalue()


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """Holds pages back until the end so every footer can say "Page N of M" in one pass."""

    def __init__(
        self,
        *args: Any,
        footer_text: str,
        created_on_epoch: int,
        fingerprint: bytes,
        sample: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._sample = sample
        self._pin_identity(created_on_epoch, fingerprint)
        self._footer_text = footer_text
        self._page_states: list[dict[str, Any]] = []

    def _pin_identity(self, created_on_epoch: int, fingerprint: bytes) -> None:
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
        self._doc._timeStamp = stamp
        self._doc.signature = hashlib.md5(fingerprint, usedforsecurity=False)

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        page_count = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self._draw_footer(page_count)
            super().showPage()
        super().save()

    def _draw_footer(self, page_count: int) -> None:
        if self._sample:
            self._draw_sample_mark()
        y = _MARGIN_BOTTOM - 9 * mm
        self.saveState()
        self.setStrokeColor(_RULE)
        self.setLineWidth(0.5)
        self.line(_MARGIN_X, y + 4 * mm, _PAGE_WIDTH - _MARGIN_X, y + 4 * mm)
        self.setFont(FONT, 7.5)
        self.setFillColor(_MUTED)
        self.drawString(_MARGIN_X, y, self._footer_text)
        self.drawRightString(_PAGE_WIDTH - _MARGIN_X, y, f"Page {self._pageNumber} of {page_count}")
        self.restoreState()

    def _draw_sample_mark(self) -> None:
        """A red banner above the header of every page: a sample issuer's document is no
        invoice. Horizontal, so text extraction still reads the page in order."""
        self.saveState()
        self.setFillColor(_SAMPLE_RED)
        self.rect(0, _PAGE_HEIGHT - 11 * mm, _PAGE_WIDTH, 8 * mm, stroke=0, fill=1)
        self.setFillColor(colors.white)
        self.setFont(FONT_BOLD, 13)
        self.drawCentredString(_PAGE_WIDTH / 2, _PAGE_HEIGHT - 8.6 * mm, SAMPLE_MARK)
        self.restoreState()


# --- text helpers -------------------------------------------------------------------------------


def _title(doc: PdfDocument) -> str:
    return "Invoice" if doc.kind == "invoice" else "Credit note"


def money(amount_minor: int, currency: str) -> str:
    """Money as printed everywhere on the page: the currency's symbol, grouping and decimals
    in the page's language (English): "€2,000.00", "¥1,500,000", "-€200.00"."""
    return format_currency(
        from_minor(amount_minor, currency), currency, locale=PAGE_LOCALE, currency_digits=True
    )


def percent(rate: Decimal) -> str:
    """19.00 -> "19", 7.50 -> "7.5": no trailing zeros and never scientific notation."""
    text = format(rate.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _markup(text: str) -> str:
    """Customer-supplied text inside Paragraph markup: "Müller & Söhne" must not be a tag, and
    "株式会社" must not print as empty boxes."""
    return markup(text)


def _lines_markup(lines: Iterable[str]) -> str:
    return "<br/>".join(_markup(line) for line in lines if line)


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=11.5, textColor=_INK)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=_MUTED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
        "statement": ParagraphStyle("statement", parent=base, fontSize=7.5, leading=9.5),
        "label": ParagraphStyle(
            "label", parent=base, fontName=FONT_BOLD, fontSize=7, leading=10, textColor=_MUTED
        ),
        "issuer": ParagraphStyle(
            "issuer", parent=base, fontName=FONT_BOLD, fontSize=13, leading=16, spaceAfter=2
        ),
        "customer": ParagraphStyle(
            "customer", parent=base, fontName=FONT_BOLD, fontSize=10, leading=13, spaceAfter=1
        ),
        "title": ParagraphStyle(
            "title",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=20,
            leading=24,
            alignment=TA_RIGHT,
            textColor=_ACCENT,
        ),
        "heading": ParagraphStyle(
            "heading",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=10.5,
            leading=13,
            textColor=_ACCENT,
            spaceBefore=9,
            spaceAfter=4,
        ),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=10.5, textColor=_MUTED),
    }


def _table(
    rows: Sequence[Sequence[Any]],
    *,
    col_widths: Sequence[float],
    numeric_from: int,
    repeat_header: bool = False,
    font_size: float = 8,
    padding: float = 3.5,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """The house table: navy header, zebra rows, numbers right-aligned from `numeric_from` on."""
    return styled_table(
        rows,
        col_widths=col_widths,
        repeatRows=1 if repeat_header else 0,
        hAlign="LEFT",
        commands=[
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), font_size),
            ("LEADING", (0, 0), (-1, -1), font_size + 2),
            ("TEXTCOLOR", (0, 0), (-1, -1), _INK),
            ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("BACKGROUND", (0, 0), (-1, 0), _ACCENT),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, _ZEBRA]),
            ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), padding),
            ("BOTTOMPADDING", (0, 0), (-1, -1), padding),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ("LINEBELOW", (0, -1), (-1, -1), 0.6, _ACCENT),
            *extra,
        ],
    )


def _plain_table(rows: Sequence[Sequence[Any]], *, col_widths: Sequence[float]) -> Table:
    """A borderless layout grid, for placing blocks side by side."""
    return styled_table(
        rows,
        col_widths=col_widths,
        hAlign="LEFT",
        commands=[
            ("FONTNAME", (0, 0), (-1, -1), FONT),  # or Helvetica gets referenced
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ],
    )


# --- the story ----------------------------------------------------------------------------------


def _story(doc: PdfDocument) -> list[Flowable]:
    story: list[Flowable] = [
        _header(doc),
        Spacer(0, 8 * mm),
        _parties(doc),
        Spacer(0, 7 * mm),
        _lines(doc),
        Spacer(0, 2 * mm),
        _totals(doc),
    ]
    if doc.reverse_charge:
        story += [Spacer(0, 2 * mm), text_flowable(_REVERSE_CHARGE_NOTE, _styles()["note"])]
    if doc.hours is not None:
        story.append(KeepTogether(_hours_section(doc, doc.hours)))
    if doc.sla is not None:
        story.append(KeepTogether(_sla_section(doc, doc.sla)))
    if doc.issuer.bank_details or doc.payment_instructions:
        story.append(KeepTogether(_payment_section(doc)))
    if doc.statement or doc.hours is not None:
        story += [PageBreak(), *_statement(doc)]
    return story


def _header(doc: PdfDocument) -> Table:
    styles = _styles()
    details = [
        *doc.issuer.address_lines,
        f"VAT ID {doc.issuer.tax_id}" if doc.issuer.tax_id else "",
        doc.issuer.email or "",
    ]
    issuer = [
        text_flowable(doc.issuer.name, styles["issuer"]),
        Paragraph(_lines_markup(details), styles["small"]),
    ]
    title = text_flowable(_title(doc), styles["title"])
    return _plain_table([[issuer, title]], col_widths=[_CONTENT_WIDTH * 0.6, _CONTENT_WIDTH * 0.4])


def _parties(doc: PdfDocument) -> Table:
    styles = _styles()
    customer = doc.customer
    details = [
        *customer.address_lines,
        customer.country or "",
        f"VAT ID {customer.tax_id}" if customer.tax_id else "",
        customer.email or "",
    ]
    bill_to = [
        text_flowable("BILL TO" if doc.kind == "invoice" else "CREDITED TO", styles["label"]),
        text_flowable(customer.name, styles["customer"]),
        Paragraph(_lines_markup(details), styles["base"]),
    ]
    facts: list[tuple[str, str]] = [(f"{_title(doc)} number", doc.number)]
    if doc.credited_invoice_number:
        facts.append(("Credits invoice", doc.credited_invoice_number))
    facts.append(("Issue date", doc.issue_date.isoformat()))
    if doc.due_date is not None:
        facts.append(("Due date", doc.due_date.isoformat()))
    facts += [("Period", doc.period), ("Currency", doc.currency)]
    meta = styled_table(
        facts,
        col_widths=[32 * mm, 38 * mm],
        hAlign="RIGHT",
        commands=[
            ("FONTNAME", (0, 0), (0, -1), FONT),
            ("FONTNAME", (1, 0), (1, -1), FONT_BOLD),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("TEXTCOLOR", (0, 0), (0, -1), _MUTED),
            ("TEXTCOLOR", (1, 0), (1, -1), _INK),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, _RULE),
        ],
    )
    return _plain_table([[bill_to, meta]], col_widths=[_CONTENT_WIDTH - 72 * mm, 72 * mm])


def _lines(doc: PdfDocument) -> Table:
    styles = _styles()
    rows: list[list[Any]] = [["Description", "Quantity", "Unit price", "Amount"]]
    for line in doc.lines:
        rows.append(
            [
                text_flowable(line.description, styles["cell"]),
                line.quantity,
                "" if line.unit_price_minor is None else money(line.unit_price_minor, doc.currency),
                money(line.amount_minor, doc.currency),
            ]
        )
    if not doc.lines:
        rows.append([text_flowable("No lines.", styles["cell"]), "", "", ""])
    return _table(
        rows,
        col_widths=[_CONTENT_WIDTH - 84 * mm, 22 * mm, 30 * mm, 32 * mm],
        numeric_from=1,
        repeat_header=True,
    )


def _totals(doc: PdfDocument) -> Table:
    rows: list[list[str]] = [["Subtotal", money(doc.subtotal_minor, doc.currency)]]
    if not doc.reverse_charge:
        rows.append(
            [f"Tax ({percent(doc.tax_rate_percent)} %)", money(doc.tax_minor, doc.currency)]
        )
    rows.append(["Total", money(doc.total_minor, doc.currency)])
    return styled_table(
        rows,
        col_widths=[40 * mm, 32 * mm],
        hAlign="RIGHT",
        commands=[
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("TEXTCOLOR", (0, 0), (-1, -2), _MUTED),
            ("FONTNAME", (0, -1), (-1, -1), FONT_BOLD),
            ("FONTSIZE", (0, -1), (-1, -1), 10.5),
            ("TEXTCOLOR", (0, -1), (-1, -1), _ACCENT),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, _ACCENT),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("TOPPADDING", (0, -1), (-1, -1), 5),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ],
    )


def _hours_section(doc: PdfDocument, hours: HoursSummary) -> list[Flowable]:
    styles = _styles()
    figures = [
        ("Granted", hours.granted_minutes),
        ("Used", hours.used_minutes),
        ("Expired", hours.expired_minutes),
        ("Overage", hours.overage_minutes),
        ("Remaining", hours.remaining_minutes),
    ]
    rows: list[list[str]] = [["Hours", "h:mm", "Minutes"]]
    rows += [[label, format_hours(minutes), str(minutes)] for label, minutes in figures]
    left_width = 78 * mm
    table = _table(rows, col_widths=[30 * mm, 22 * mm, 26 * mm], numeric_from=1)
    # One chart bar per table row: the chart starts below the header row, rows are 17 pt high.
    row_height = 8 + 2 + 2 * 3.5
    chart = hours_chart(
        hours,
        width=_CONTENT_WIDTH - left_width - 12 * mm,
        height=5 * row_height,
        font_name=FONT,
        bold_font_name=FONT_BOLD,
    )
    flowables: list[Flowable] = [
        text_flowable(f"Hours for {doc.period}", styles["heading"]),
        _plain_table(
            [[table, [Spacer(0, row_height), chart]]],
            col_widths=[left_width + 12 * mm, _CONTENT_WIDTH - left_width - 12 * mm],
        ),
    ]
    if hours.pool:
        pool = text_flowable(f"Pool: {hours.pool}", styles["note"])
        flowables += [Spacer(0, 2 * mm), pool]
    return flowables


def _sla_section(doc: PdfDocument, sla: SlaSummary) -> list[Flowable]:
    styles = _styles()
    half = (_CONTENT_WIDTH - 8 * mm) / 2
    availability: Flowable
    if sla.components:
        component_rows: list[list[Any]] = [["Component", "Availability", "Credit"]]
        for component in sla.components:
            component_rows.append(
                [
                    text_flowable(component.name, styles["cell"]),
                    f"{component.availability_percent} %",
                    money(component.credit_minor, doc.currency),
                ]
            )
        availability = _table(
            component_rows, col_widths=[half - 54 * mm, 24 * mm, 30 * mm], numeric_from=1
        )
    else:
        availability = text_flowable("No availability commitment in this period.", styles["note"])
    response: Flowable
    if sla.tickets:
        ticket_rows: list[list[Any]] = [["Severity", "Tickets", "Met", "Breached"]]
        ticket_rows += [
            [row.severity, str(row.tickets), str(row.met), str(row.breached)] for row in sla.tickets
        ]
        response = _table(
            ticket_rows, col_widths=[half - 54 * mm, 18 * mm, 18 * mm, 18 * mm], numeric_from=1
        )
    else:
        response = text_flowable("No tickets in this period.", styles["note"])
    return [
        text_flowable(f"Service levels for {doc.period}", styles["heading"]),
        _plain_table([[availability, "", response]], col_widths=[half, 8 * mm, half]),
    ]


def _payment_section(doc: PdfDocument) -> list[Flowable]:
    styles = _styles()
    flowables: list[Flowable] = [text_flowable("Payment", styles["heading"])]
    if doc.payment_instructions:
        flowables.append(Paragraph(_lines_markup(doc.payment_instructions), styles["base"]))
    if doc.issuer.bank_details:
        flowables += [
            Spacer(0, 1.5 * mm),
            Paragraph(_lines_markup(doc.issuer.bank_details), styles["base"]),
        ]
    return flowables


_STATEMENT_WIDTHS = [19 * mm, 22 * mm, 11 * mm, 15 * mm, _CONTENT_WIDTH - 109 * mm, 42 * mm]
_STATEMENT_FONT_SIZE = 7.5
_STATEMENT_PADDING = 2.5


def _statement(doc: PdfDocument) -> list[Flowable]:
    styles = _styles()
    total_minutes = sum(entry.minutes for entry in doc.statement)
    rows: list[list[Any]] = [["Date", "Ticket", "Level", "Minutes", "Description", "Covered by"]]
    rows += [_statement_row(entry, styles["statement"]) for entry in doc.statement]
    rows.append(["Total", "", "", str(total_minutes), "", ""])
    summary = (
        f"{doc.customer.name} · {_title(doc)} {doc.number} · "
        f"{len(doc.statement)} work {'entry' if len(doc.statement) == 1 else 'entries'}, "
        f"{total_minutes} minutes "
        f"({format_hours(total_minutes)} h)"
    )
    table = _table(
        rows,
        col_widths=_STATEMENT_WIDTHS,
        numeric_from=2,
        repeat_header=True,
        font_size=_STATEMENT_FONT_SIZE,
        padding=_STATEMENT_PADDING,
        extra=[
            ("ALIGN", (4, 0), (-1, -1), "LEFT"),
            ("FONTNAME", (0, -1), (-1, -1), FONT_BOLD),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, _ACCENT),
        ],
    )
    return [
        text_flowable(f"Hours statement for {doc.period}", styles["heading"]),
        text_flowable(summary, styles["small"]),
        Spacer(0, 3 * mm),
        table,
    ]


def _statement_row(entry: StatementEntry, style: ParagraphStyle) -> list[Any]:
    if entry.multiplier:
        description: str | Paragraph = Paragraph(
            f"{_markup(entry.description)} "
            f'<font color="#5F6B78">(counted {_markup(entry.multiplier)})</font>',
            style,
        )
    else:
        description = _wrapping_cell(entry.description, style, _STATEMENT_WIDTHS[4])
    return [
        entry.worked_on.isoformat(),
        _wrapping_cell(entry.ticket_ref, style, _STATEMENT_WIDTHS[1]),
        str(entry.level),
        str(entry.minutes),
        description,
        _wrapping_cell(entry.covered_by, style, _STATEMENT_WIDTHS[5]),
    ]


def _wrapping_cell(text: str, style: ParagraphStyle, column_width: float) -> str | Paragraph:
    """Plain text when it fits on one line, a wrapping Paragraph when not.

    A statement can run to hundreds of rows; a Paragraph costs several times a plain string to lay
    out, and on one line the two look the same.
    """
    room = column_width - 2 * 5  # the house table's left and right padding
    if (
        "\n" not in text
        and not needs_fallback(text)
        and pdfmetrics.stringWidth(text, style.fontName, style.fontSize) <= room
    ):
        return text
    return text_flowable(text, style)
