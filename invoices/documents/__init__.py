"""An issued invoice's (or credit note's) documents: rendered from its immutable rows, stored
once per format in `invoice_documents`, served as stored.

The seam between issuing and rendering: issuing commits the invoice; `render_invoice_documents`
(now or later, on any worker) stores its documents; `invoices_without_documents` says what is
still to render. `document_data` + `build_documents` split the same work into a database part
and a pure part that can run in a process pool; `store_documents` then inserts the result.
"""

from invoices.documents.build import Rendered, build_documents
from invoices.documents.data import (
    DocumentData,
    credit_note_data,
    document_data,
    documents_data,
)
from invoices.documents.models import FORMATS, InvoiceDocument
from invoices.documents.store import (
    REQUIRED_FORMATS,
    credit_notes_without_documents,
    document_digest,
    get_document,
    insert_rows,
    invoices_without_documents,
    missing_credit_note_documents_query,
    missing_documents_query,
    render_credit_note_documents,
    render_invoice_documents,
    store_documents,
)

Document = InvoiceDocument

__all__ = [
    "FORMATS",
    "REQUIRED_FORMATS",
    "Document",
    "DocumentData",
    "InvoiceDocument",
    "Rendered",
    "build_documents",
    "credit_note_data",
    "credit_notes_without_documents",
    "document_data",
    "document_digest",
    "documents_data",
    "get_document",
    "insert_rows",
    "invoices_without_documents",
    "missing_credit_note_documents_query",
    "missing_documents_query",
    "render_credit_note_documents",
    "render_invoice_documents",
    "store_documents",
]
