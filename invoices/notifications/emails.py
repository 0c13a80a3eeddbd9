"""The e-mail outbox: invoices, credit notes and hours alerts, each queued once.

Queueing happens in the transaction that issues the document (or relays the alert), so a dry
run, which issues nothing, queues nothing; the unique keys allow one e-mail per document or
alert. What a row's message says and carries is composed when it is sent (`compose`): the
document's stored files, so an e-mail waits until its documents exist. Sending: `mailer`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices import documents
from invoices.models import CreditNote, Invoice
from invoices.notifications.models import EmailOutbox
from ledger import money
from ledger.base import utcnow
from ledger.bulk import insert_rows
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.hours.alerts import HoursAlert
from ledger.sla.models import AuthorizedContact

if TYPE_CHECKING:
    from invoices.writing import InvoiceRow

# --- queueing (in the caller's transaction) -------------------------------------------------------


def _new_message_id() -> str:
    return f"<{secrets.token_hex(16)}@hourglass.invalid>"


def _values(
    *, kind: str, recipients: list[str], now: datetime | None, **ref: int | None
) -> dict[str, Any]:
    """An outbox row's every column but its id, as a new row has them."""
    now = now or utcnow()
    return {
        "kind": kind,
        "invoice_id": ref.get("invoice_id"),
        "credit_note_id": ref.get("credit_note_id"),
        "hours_alert_id": ref.get("hours_alert_id"),
        "message_id": _new_message_id(),
        "state": "pending" if recipients else "skipped",
        "attempts": 0,
        "last_error": None if recipients else "nobody to send it to",
        "next_attempt_at": now,
        "sending_at": None,
        "sent_at": None,
        "recipients": recipients,
        "created_at": now,
        "updated_at": now,
    }


def _row(
    *, kind: str, recipients: list[str], now: datetime | None, **ref: int | None
) -> EmailOutbox:
    return EmailOutbox(**_values(kind=kind, recipients=recipients, now=now, **ref))


def _queue(
    session: Session, *, kind: str, recipients: list[str], now: datetime | None, **ref: int
) -> EmailOutbox:
    row = _row(kind=kind, recipients=recipients, now=now, **ref)
    session.add(row)
    session.flush()
    return row


def queue_invoice_emails(
    session: Session,
    invoices: Sequence[tuple[Invoice | InvoiceRow, Customer]],
    *,
    now: datetime | None = None,
) -> None:
    """One e-mail per invoice, to its customer, in one insert (the customers given: each
    invoice's own)."""
    rows = []
    for invoice, customer in invoices:
        assert invoice.id is not None and customer.id == invoice.customer_id
        rows.append(
            _values(kind="invoice", recipients=[customer.email], now=now, invoice_id=invoice.id)
        )
    insert_rows(session, EmailOutbox.__table__, rows)  # type: ignore[attr-defined]


def queue_credit_note_email(
    session: Session, note: CreditNote, *, now: datetime | None = None
) -> EmailOutbox:
    customer = session.get(Customer, note.customer_id)
    assert customer is not None and note.id is not None
    return _queue(
        session, kind="credit_note", recipients=[customer.email], now=now, credit_note_id=note.id
    )


def queue_alert_email(
    session: Session, alert: HoursAlert, *, now: datetime | None = None
) -> EmailOutbox:
    """To the contract's authorized contacts (skipped when it has none)."""
    assert alert.id is not None
    contacts = session.scalars(
        select(col(AuthorizedContact.email))
        .where(col(AuthorizedContact.contract_id) == alert.contract_id)
        .order_by(col(AuthorizedContact.id))
    ).all()
    return _queue(
        session, kind="hours_alert", recipients=list(contacts), now=now, hours_alert_id=alert.id
    )


# --- composing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    content: bytes


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()


def format_percent(value: object) -> str:
    return f"{value} %"


def _compose_invoice(session: Session, invoice: Invoice) -> Composed | None:
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None and invoice.number is not None
    files = invoice_attachments(session, invoice, customer)
    if files is None:
        return None
    total = money.format_amount(invoice.total_minor, invoice.currency)
    body = (
        f"Dear {customer.name},\n\n"
        f"please find attached invoice {invoice.number} for {invoice.period_label}: "
        f"{total} {invoice.currency}, due on {invoice.due_date}.\n"
    )
    return Composed(f"Invoice {invoice.number}", body, files)


def _compose_credit_note(session: Session, note: CreditNote) -> Composed | None:
    customer = session.get(Customer, note.customer_id)
    invoice = session.get(Invoice, note.invoice_id)
    assert customer is not None and invoice is not None
    files = credit_note_attachments(session, note, customer)
    if files is None:
        return None
    total = money.format_amount(note.total_minor, note.currency)
    body = (
        f"Dear {customer.name},\n\n"
        f"please find attached credit note {note.number} for invoice {invoice.number}: "
        f"{total} {note.currency}.\n"
    )
    return Composed(f"Credit note {note.number} for invoice {invoice.number}", body, files)


def _compose_alert(session: Session, alert: HoursAlert) -> Composed:
    contract = session.get(Contract, alert.contract_id)
    assert contract is not None
    plan = session.get(Plan, contract.plan_id)
    name = f"Contract {contract.id} ({plan.name})" if plan else f"Contract {contract.id}"
    months = " + ".join(alert.months)
    threshold = format_percent(alert.threshold_percent)
    subject = f"{name}: {threshold} of the hours for {months} used"
    body = (
        f"{name} has used {alert.used_minutes} of its {alert.granted_minutes} minutes for "
        f"{months}: the {threshold} alert threshold is reached.\n"
    )
    return Composed(subject, body)


XML_FORMATS = ("xrechnung", "ubl")  # the customer formats that travel as `<number>.xml`


def _attachments(
    session: Session, *, number: str, customer: Customer, **owner: int
) -> tuple[Attachment, ...] | None:
    """`<number>.pdf`, and `<number>.xml` for an XRechnung or UBL customer; None until every
    one of them is rendered (documents may follow the issuing commit)."""
    pdf = documents.get_document(session, format="pdf", **owner)
    if pdf is None:
        return None
    files = [Attachment(f"{number}.pdf", "application", "pdf", pdf.content)]
    wanted = customer.e_invoice_format
    if wanted in XML_FORMATS:
        xml = documents.get_document(session, format=wanted, **owner)
        if xml is None:
            return None
        files.append(Attachment(f"{number}.xml", "application", "xml", xml.content))
    return tuple(files)


def invoice_attachments(
    session: Session, invoice: Invoice, customer: Customer
) -> tuple[Attachment, ...] | None:
    assert invoice.id is not None and invoice.number is not None
    return _attachments(session, number=invoice.number, customer=customer, invoice_id=invoice.id)


def credit_note_attachments(
    session: Session, note: CreditNote, customer: Customer
) -> tuple[Attachment, ...] | None:
    assert note.id is not None
    return _attachments(session, number=note.number, customer=customer, credit_note_id=note.id)


def compose(session: Session, row: EmailOutbox) -> Composed | None:
    """What the row's e-mail says; None while its documents are not ready."""
    if row.invoice_id is not None:
        invoice = session.get(Invoice, row.invoice_id)
        assert invoice is not None
        return _compose_invoice(session, invoice)
    if row.credit_note_id is not None:
        note = session.get(CreditNote, row.credit_note_id)
        assert note is not None
        return _compose_credit_note(session, note)
    assert row.hours_alert_id is not None
    alert = session.get(HoursAlert, row.hours_alert_id)
    assert alert is not None
    return _compose_alert(session, alert)
