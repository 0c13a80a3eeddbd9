"""Writing drafted invoices and issuing them, a chunk at a time in a handful of statements.

`issuing.draft_period` computes a draft (no writes of its own besides closing the period);
`write_drafts` inserts any number of them: their invoices in one `INSERT … RETURNING`, all their
lines in one more, and settles what they bill (`computation.settle_pending`: one statement per
kind). `issue_drafts` numbers them from one locked update of the sequence and issues them in one
UPDATE, then queues their document jobs, payments, `invoice.issued` events, webhook deliveries
and e-mails, one insert each. A single contract goes through the same functions with a list of
one. The invoices stay drafts until `issue_drafts` (PostgreSQL refuses lines for an issued
invoice), and are numbered as late as possible: the sequence row stays locked until the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from invoices import lines as invoice_lines
from invoices import parties
from invoices.computation import Pending, settle_pending
from invoices.issuer import IssuerDetails
from invoices.models import Invoice, InvoiceLine
from invoices.notifications import events as notify
from invoices.numbering import reserve_numbers
from invoices.payments.models import PaymentOutbox
from invoices.runs.models import DocumentJob
from invoices.runs.wakeup import announce
from ledger.base import utcnow
from ledger.bulk import insert_rows, insert_rows_ids, update_by_id
from ledger.customers.models import Customer


@dataclass(slots=True)
class InvoiceRow:
    """A chunk's drafted invoice as a plain row: `Invoice`'s columns with its defaults, written
    by a Core insert (`write_drafts`) without building an ORM object (a tenth of a chunk's
    time went into those). A single contract's draft is an `Invoice`, as its caller gets it."""

    customer_id: int
    contract_id: int
    period_start: date
    period_end: date
    period_label: str
    currency: str
    id: int | None = None
    number: str | None = None
    status: str = "draft"
    issue_date: date | None = None
    due_date: date | None = None
    subtotal_minor: int = 0
    tax_rate_percent: Decimal = Decimal(0)
    tax_minor: int = 0
    total_minor: int = 0
    reverse_charge: bool = False
    note: str = ""
    billing_run_id: int | None = None
    payment_status: str = "none"
    payment_failure_message: str | None = None
    paid_at: datetime | None = None
    issued_at: datetime | None = None
    voided_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    parties: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        """Every column but the id."""
        return {name: getattr(self, name) for name in _ROW_COLUMNS}


_ROW_COLUMNS = tuple(f.name for f in fields(InvoiceRow) if f.name != "id")


@dataclass
class Draft:
    """A drafted invoice and what writing and issuing it needs: its lines, what it settles."""

    invoice: Invoice | InvoiceRow
    customer: Customer
    lines: tuple[invoice_lines.Line, ...] = ()
    pending: Pending | None = None
    written: bool = False


def write_drafts(session: Session, drafts: Sequence[Draft]) -> None:
    """Insert the drafts' invoices (one statement) and lines (one), and settle what they bill."""
    todo = [d for d in drafts if not d.written]
    if not todo:
        return
    models = [d.invoice for d in todo if isinstance(d.invoice, Invoice)]
    if models:
        session.add_all(models)
        session.flush()  # the unit of work batches same-shaped INSERTs into one, ids RETURNed
    rows = [d.invoice for d in todo if isinstance(d.invoice, InvoiceRow)]
    ids = insert_rows_ids(session, _INVOICES, [row.values() for row in rows])
    for row, id_ in zip(rows, ids, strict=True):
        row.id = id_
    lines: list[dict[str, Any]] = []
    for draft in todo:
        assert draft.invoice.id is not None
        lines.extend(
            {
                "invoice_id": draft.invoice.id,
                "position": position,
                "kind": line.kind,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price_minor": line.unit_price_minor,
                "amount_minor": line.amount_minor,
            }
            for position, line in enumerate(draft.lines, start=1)
        )
    insert_rows(session, InvoiceLine.__table__, lines)  # type: ignore[attr-defined]
    settle_pending(session, [(d.invoice, d.pending) for d in todo if d.pending is not None])
    for draft in todo:
        draft.written = True


def issue_drafts(
    session: Session, drafts: list[Draft], *, issuer: IssuerDetails, now: datetime
) -> None:
    """Issue drafts in order: their numbers come from one locked update of the sequence, in
    the caller's transaction, so they are gapless however many workers issue at once. Each
    invoice stores its parties as of now (`invoices.parties`: what its documents show of the
    customer and the issuer) and gets a document job (its documents are rendered after the
    commit, by any worker: `invoices.runs.documents`) and, when something is due, a payment
    outbox row.

    The one place where invoices become issued (events about an issued invoice belong here)."""
    if not drafts:
        return
    write_drafts(session, drafts)
    numbers = reserve_numbers(
        session, issuer=issuer.name, kind="invoice", year=now.date().year, count=len(drafts)
    )
    issue_date = now.date()
    number_of: dict[int, str] = {}
    due_of: dict[int, Any] = {}
    parties_of: dict[int, dict[str, Any]] = {}  # the documents' parties as of issue
    for draft, number in zip(drafts, numbers, strict=True):
        assert draft.invoice.id is not None
        number_of[draft.invoice.id] = number
        due_of[draft.invoice.id] = issue_date + timedelta(days=draft.customer.payment_terms_days)
        parties_of[draft.invoice.id] = parties.snapshot(draft.customer, issuer)
    update_by_id(
        session,
        Invoice.__table__,  # type: ignore[attr-defined]
        {"number": number_of, "due_date": due_of, "parties": parties_of},
        same={"issue_date": issue_date, "status": "issued", "issued_at": now},
    )
    for draft in drafts:
        invoice = draft.invoice
        assert invoice.id is not None
        issued = {
            "number": number_of[invoice.id],
            "issue_date": issue_date,
            "due_date": due_of[invoice.id],
            "status": "issued",
            "issued_at": now,
            "parties": parties_of[invoice.id],
        }
        for name, value in issued.items():
            if isinstance(invoice, Invoice):
                set_committed_value(invoice, name, value)
            else:
                setattr(invoice, name, value)
    insert_rows(
        session,
        DocumentJob.__table__,  # type: ignore[attr-defined]
        [
            {
                "invoice_id": d.invoice.id,
                "billing_run_id": d.invoice.billing_run_id,
                "attempts": 0,
                "created_at": now,
            }
            for d in drafts
        ],
    )
    announce(session)  # idle workers render them once this commits
    outbox = [
        {
            "invoice_id": d.invoice.id,
            "idempotency_key": f"hourglass-invoice-{d.invoice.id}",
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for d in drafts
        if d.invoice.total_minor > 0
    ]
    insert_rows(session, PaymentOutbox.__table__, outbox)  # type: ignore[attr-defined]
    notify.invoices_issued(session, [(d.invoice, d.lines, d.customer) for d in drafts], now=now)


_INVOICES: Any = Invoice.__table__  # type: ignore[attr-defined]
