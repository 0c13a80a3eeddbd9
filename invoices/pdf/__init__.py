"""Invoice and credit-note PDFs: a frozen `PdfDocument` in, deterministic bytes out."""

from invoices.pdf.document import (
    ComponentAvailability,
    Customer,
    DocumentKind,
    HoursSummary,
    InvoiceLine,
    Issuer,
    PdfDocument,
    SeverityTickets,
    SlaSummary,
    StatementEntry,
)
from invoices.pdf.render import TEMPLATE_VERSION, UnsupportedTemplateVersion, render_pdf

__all__ = [
    "TEMPLATE_VERSION",
    "ComponentAvailability",
    "Customer",
    "DocumentKind",
    "HoursSummary",
    "InvoiceLine",
    "Issuer",
    "PdfDocument",
    "SeverityTickets",
    "SlaSummary",
    "StatementEntry",
    "UnsupportedTemplateVersion",
    "render_pdf",
]
