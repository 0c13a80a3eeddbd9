"""An invoice's payment as a state machine: the collector and the webhooks both move it here.

`Invoice.payment_status`, with the outbox row (`PaymentOutbox`) beside it:

    none ──claimed by a collector──▶ pending ──charge succeeded──▶ succeeded   (invoice paid)
      ▲                               │  ├── declined / unusable method / refused ──▶ failed
      │                               │  └── Stripe unreachable / still processing ──▶ pending
      └── no saved payment method     └───────────── retried later ◀───────────── failed

- `none`: nothing attempted yet, or the customer has no saved payment method. Then the message
  says so, no Stripe call is made, and the invoice waits: the first collection after a method is
  attached charges it (until then it can be paid by bank transfer).
- `pending`: a collector holds the invoice (its outbox lease), or the outcome is not known yet:
  Stripe was unreachable (the message says so and when the next try is), or the PaymentIntent is
  still processing. A pending invoice is never re-armed early: that keeps a lease exclusive.
- `succeeded`: the money is collected and the invoice is `paid`. If it was voided while the charge
  was in flight it stays `void` (a void invoice's status never changes) and the message says a
  refund is due.
- `failed`: the last charge failed: the bank's decline message, an unusable payment method, or
  Stripe refusing the request. Retried daily, and at once when a new payment method is attached.

Nothing ever moves an invoice out of `succeeded`: an outcome that arrives late (a webhook about an
earlier attempt, a collector whose lease ran out) cannot undo a payment.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from invoices.models import Invoice
from invoices.payments.models import PaymentOutbox

log = logging.getLogger("hourglass.payments")

MESSAGE_LENGTH = 500  # the width of `payment_failure_message` and `last_error`
NO_PAYMENT_METHOD = (
    "no saved payment method: the invoice is collected automatically once one is attached "
    "(or it can be paid by bank transfer)"
)


def clip(message: str) -> str:
    return message if len(message) <= MESSAGE_LENGTH else message[: MESSAGE_LENGTH - 1] + "…"


def first_idempotency_key(invoice_id: int) -> str:
    return f"hourglass-invoice-{invoice_id}"


def next_idempotency_key(invoice_id: int, *, spent_by: str | None, attempts: int) -> str:
    """The key for the next charge once a charge under the current key has failed.

    A new key is what lets Stripe try again (a replayed key returns the old decline). It is
    derived from the failed PaymentIntent, so recording the same decline twice (a collector and a
    webhook, or a re-run after a crash) yields the same key rather than skipping one.
    """
    spent = spent_by or f"attempt-{attempts}"
    return f"{first_idempotency_key(invoice_id)}-after-{spent}"[:100]


def is_settled(invoice: Invoice) -> bool:
    """Paid, or void: no outcome of a charge may change its status any more."""
    return invoice.status != "issued" or invoice.payment_status == "succeeded"


def record_success(
    session: Session,
    invoice: Invoice,
    row: PaymentOutbox | None,
    *,
    payment_intent_id: str,
    now: datetime,
) -> str:
    """The money is collected. Safe to call again for the same payment: the first call wins."""
    if invoice.status == "issued":
        invoice.status = "paid"
        invoice.paid_at = now
        invoice.payment_failure_message = None
        outcome = "invoice paid"
    elif invoice.status == "void":
        if invoice.payment_status != "succeeded":
            log.warning(
                "invoice %s was collected (%s) after it was voided: refund due",
                invoice.number,
                payment_intent_id,
            )
            invoice.payment_failure_message = clip(
                f"collected by {payment_intent_id} after the invoice was voided: refund due"
            )
        outcome = "invoice is void: collected after voiding, refund due"
    else:
        outcome = f"invoice already {invoice.status}"
    invoice.payment_status = "succeeded"
    if row is not None and row.state != "succeeded":
        row.state = "succeeded"
        row.payment_intent_id = payment_intent_id
        row.last_error = None
        row.updated_at = now
    session.flush()
    return outcome


def record_failure(
    session: Session,
    invoice: Invoice,
    row: PaymentOutbox | None,
    *,
    message: str,
    payment_intent_id: str | None,
    now: datetime,
    retry_at: datetime | None,
    spent_key: str | None,
) -> str:
    """A charge failed; the customer (or finance) must act. The outbox tries again at `retry_at`
    (None leaves the schedule alone) and, if `spent_key` is the current key, with a new key."""
    if is_settled(invoice):
        return f"ignored: invoice is {invoice.status}, payment {invoice.payment_status}"
    invoice.payment_status = "failed"
    invoice.payment_failure_message = clip(message)
    if row is not None and row.state == "pending":
        row.last_error = clip(message)
        row.payment_intent_id = payment_intent_id or row.payment_intent_id
        if retry_at is not None:
            row.next_attempt_at = retry_at
        if spent_key is not None and spent_key == row.idempotency_key:
            row.idempotency_key = next_idempotency_key(
                row.invoice_id, spent_by=payment_intent_id, attempts=row.attempts
            )
        row.updated_at = now
    session.flush()
    return "failure recorded"


def record_retry_later(
    session: Session,
    invoice: Invoice,
    row: PaymentOutbox,
    *,
    message: str,
    payment_intent_id: str | None,
    now: datetime,
    retry_at: datetime,
) -> str:
    """The outcome is not known yet (Stripe unreachable, or still processing): try again later."""
    if row.state == "pending":
        row.last_error = clip(message)
        row.payment_intent_id = payment_intent_id or row.payment_intent_id
        row.next_attempt_at = retry_at
        row.updated_at = now
    if is_settled(invoice):
        session.flush()
        return f"ignored: invoice is {invoice.status}, payment {invoice.payment_status}"
    invoice.payment_status = "pending"
    invoice.payment_failure_message = clip(message)
    session.flush()
    return "retry later"


def record_gave_up(
    session: Session, invoice: Invoice, row: PaymentOutbox, *, message: str, now: datetime
) -> str:
    """Retrying cannot help (Stripe holds a different charge under this invoice's key): the
    outbox stops, and finance sees why on the invoice."""
    if row.state == "pending":
        row.state = "failed"
        row.last_error = clip(message)
        row.updated_at = now
    if not is_settled(invoice):
        invoice.payment_status = "failed"
        invoice.payment_failure_message = clip(message)
    session.flush()
    return "collection stopped"


def record_waiting_for_payment_method(
    session: Session, invoice: Invoice, row: PaymentOutbox, *, now: datetime, retry_at: datetime
) -> str:
    """No saved payment method: no Stripe call, and the invoice says what it is waiting for."""
    row.last_error = NO_PAYMENT_METHOD
    row.next_attempt_at = retry_at
    row.updated_at = now
    if not is_settled(invoice):
        invoice.payment_status = "none"
        invoice.payment_failure_message = NO_PAYMENT_METHOD
    session.flush()
    return "waiting for a payment method"
