"""The payment outbox collector: every due outbox row becomes one Stripe charge, exactly once.

Each row goes through three steps, and no database transaction is open while Stripe is called:

1. `claim_next` (one short transaction): take the next due row with `FOR UPDATE SKIP LOCKED`,
   so two collectors never take the same row, and lease it: `attempts + 1`, `next_attempt_at`
   pushed `LEASE` ahead, the invoice marked `pending`. Commit.
2. `charge_claimed`: `StripeGateway.charge` with the row's idempotency key. No transaction.
3. `record_outcome` (a new transaction): write what Stripe said on the invoice and the row.

A crash between any two steps never charges twice nor forgets an invoice:
- before 1 commits: nothing happened; the row is still due.
- after 1, before or during 2: the row is leased, not lost. When the lease runs out the next
  collection takes it again, and the gateway finds the PaymentIntent the first call may have
  made (same invoice, same key) instead of making a second one.
- after 2, before or during 3: Stripe has the outcome, the database does not. The same as above:
  the retry gets the same PaymentIntent back, and records it.
Webhooks may record the outcome first; recording is monotonic (`invoices.payments.recording`),
so whichever comes second changes nothing.

The lease must outlast one `charge` (a handful of HTTP calls, each bounded by the gateway's
timeouts); on real Stripe the idempotency key closes the remaining window too.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.payments import recording
from invoices.payments.models import PaymentOutbox
from invoices.payments.stripe_gateway import (
    CardDeclined,
    IdempotencyConflict,
    PaymentGatewayError,
    PaymentMethodMissing,
    StripeGateway,
    StripeRequestRejected,
    StripeUnreachable,
)
from ledger.base import unit_of_work
from ledger.customers.models import Customer

log = logging.getLogger("hourglass.payments")

LEASE = timedelta(minutes=10)
DECLINED_RETRY = timedelta(days=1)  # and at once when a new payment method is attached
NO_METHOD_RECHECK = timedelta(days=1)  # and at once when a payment method is attached
PROCESSING_RECHECK = timedelta(hours=1)  # a webhook usually settles it sooner
UNREACHABLE_FIRST_RETRY = timedelta(minutes=1)
UNREACHABLE_LAST_RETRY = timedelta(hours=1)
REJECTED_FIRST_RETRY = timedelta(hours=1)
REJECTED_LAST_RETRY = timedelta(days=1)
DEFAULT_LIMIT = 1000

# Outcome kinds, as counted in a `CollectionSummary`.
SUCCEEDED = "succeeded"
DECLINED = "declined"
NO_PAYMENT_METHOD = "no_payment_method"
PAYMENT_METHOD_UNUSABLE = "payment_method_unusable"
NEEDS_AUTHENTICATION = "needs_authentication"
PROCESSING = "processing"
UNREACHABLE = "stripe_unreachable"
REJECTED = "rejected_by_stripe"
CONFLICT = "conflict"
ERROR = "error"
SETTLED = "already_settled"


@dataclass(frozen=True, slots=True)
class ClaimedCharge:
    """A leased outbox row, with everything the charge needs, read in the claiming transaction."""

    outbox_id: int
    invoice_id: int
    invoice_number: str
    amount_minor: int
    currency: str
    stripe_customer_id: str
    payment_method_id: str
    idempotency_key: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    """What Stripe said, as plain values (step 2's result, step 3's input)."""

    kind: str
    message: str | None = None
    payment_intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class CollectionResult:
    invoice_id: int
    invoice_number: str | None
    outcome: str
    detail: str | None = None
    payment_intent_id: str | None = None


@dataclass
class CollectionSummary:
    results: list[CollectionResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(result.outcome for result in self.results))

    @property
    def succeeded(self) -> int:
        return sum(1 for result in self.results if result.outcome == SUCCEEDED)


def collect_pending(
    session_factory: sessionmaker[Session],
    gateway: StripeGateway,
    *,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
) -> CollectionSummary:
    """Charge every outbox row due at `now` (at most `limit`), each in its own steps.

    Rows are handled one at a time, so several collectors can run side by side and share the
    work. A row handled here is never due again at `now` (it is settled, leased or rescheduled),
    so one call ends.
    """
    summary = CollectionSummary()
    while len(summary.results) < limit:
        claimed = claim_next(session_factory, now=now)
        if claimed is None:
            break
        if isinstance(claimed, CollectionResult):
            summary.results.append(claimed)
            continue
        outcome = charge_claimed(gateway, claimed)
        summary.results.append(record_outcome(session_factory, claimed, outcome, now=now))
    return summary


def claim_next(
    session_factory: sessionmaker[Session], *, now: datetime
) -> ClaimedCharge | CollectionResult | None:
    """Step 1: lease the next due row (None when nothing is due).

    Rows that need no charge are settled here and returned as a result: the invoice was paid
    (by a webhook) or voided meanwhile, or the customer has no saved payment method.
    The outbox row and its invoice are locked together with SKIP LOCKED, so a collector never
    waits on a void or a webhook holding the invoice: it takes another row.
    """
    with unit_of_work(session_factory) as session:
        found = session.execute(
            select(PaymentOutbox, Invoice)
            .join(Invoice, col(Invoice.id) == col(PaymentOutbox.invoice_id))
            .where(col(PaymentOutbox.state) == "pending", col(PaymentOutbox.next_attempt_at) <= now)
            .order_by(col(PaymentOutbox.next_attempt_at), col(PaymentOutbox.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if found is None:
            return None
        row, invoice = found
        assert row.id is not None and invoice.id is not None
        if invoice.status != "issued":
            row.state = "succeeded" if invoice.status == "paid" else "cancelled"
            row.updated_at = now
            detail = f"invoice {invoice.status}"
            return CollectionResult(invoice.id, invoice.number, SETTLED, detail)
        customer = session.get(Customer, invoice.customer_id)
        assert customer is not None
        if customer.stripe_customer_id is None or customer.default_payment_method_id is None:
            recording.record_waiting_for_payment_method(
                session, invoice, row, now=now, retry_at=now + NO_METHOD_RECHECK
            )
            return CollectionResult(
                invoice.id, invoice.number, NO_PAYMENT_METHOD, recording.NO_PAYMENT_METHOD
            )
        assert invoice.number is not None
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        row.updated_at = now
        invoice.payment_status = "pending"
        invoice.payment_failure_message = None
        return ClaimedCharge(
            outbox_id=row.id,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            stripe_customer_id=customer.stripe_customer_id,
            payment_method_id=customer.default_payment_method_id,
            idempotency_key=row.idempotency_key,
            attempt=row.attempts,
        )


def charge_claimed(gateway: StripeGateway, claimed: ClaimedCharge) -> ChargeOutcome:
    """Step 2: the Stripe call, outside any transaction. Never raises for what Stripe says."""
    try:
        result = gateway.charge(
            customer_id=claimed.stripe_customer_id,
            payment_method_id=claimed.payment_method_id,
            amount_minor=claimed.amount_minor,
            currency=claimed.currency,
            invoice_number=claimed.invoice_number,
            invoice_id=str(claimed.invoice_id),
            idempotency_key=claimed.idempotency_key,
        )
    except CardDeclined as error:
        return ChargeOutcome(DECLINED, error.message, error.payment_intent_id)
    except PaymentMethodMissing as error:
        return ChargeOutcome(
            PAYMENT_METHOD_UNUSABLE,
            f"the saved payment method cannot be charged ({error.message}): attach another one",
        )
    except StripeUnreachable as error:
        return ChargeOutcome(UNREACHABLE, error.message)
    except IdempotencyConflict as error:
        return ChargeOutcome(
            CONFLICT,
            f"Stripe holds a different charge for this invoice ({error.message}): "
            "collection stopped, check the invoice in Stripe",
        )
    except StripeRequestRejected as error:
        return ChargeOutcome(REJECTED, f"Stripe refused the charge: {error.message}")
    except PaymentGatewayError as error:
        return ChargeOutcome(ERROR, error.message)
    except Exception as error:  # a bug or a surprise from the Stripe library: retry later
        log.exception("charging invoice %s failed unexpectedly", claimed.invoice_number)
        return ChargeOutcome(ERROR, f"{type(error).__name__}: {error}")
    if result.status == "succeeded":
        return ChargeOutcome(SUCCEEDED, None, result.payment_intent_id)
    if result.status in ("processing", "requires_capture"):
        return ChargeOutcome(
            PROCESSING,
            f"payment {result.payment_intent_id} is {result.status} at Stripe",
            result.payment_intent_id,
        )
    if result.status == "requires_action":
        return ChargeOutcome(
            NEEDS_AUTHENTICATION,
            "the card needs the customer's authentication, which an automatic charge cannot "
            "give: attach another payment method or pay by bank transfer",
            result.payment_intent_id,
        )
    return ChargeOutcome(
        DECLINED,
        result.failure_message or f"payment {result.payment_intent_id} ended {result.status}",
        result.payment_intent_id,
    )


def record_outcome(
    session_factory: sessionmaker[Session],
    claimed: ClaimedCharge,
    outcome: ChargeOutcome,
    *,
    now: datetime,
) -> CollectionResult:
    """Step 3: write the outcome, in a transaction of its own.

    Locks the invoice, then the row: the order `void_invoice` and the webhooks use. A success is
    always recorded. Any other outcome only if the row is still this collector's (same attempt):
    if the lease ran out and another collector took the row, that one's outcome counts.
    """
    with unit_of_work(session_factory) as session:
        invoice = session.scalar(
            select(Invoice).where(col(Invoice.id) == claimed.invoice_id).with_for_update()
        )
        row = session.scalar(
            select(PaymentOutbox)
            .where(col(PaymentOutbox.id) == claimed.outbox_id)
            .with_for_update()
        )
        assert invoice is not None and row is not None
        if outcome.kind == SUCCEEDED:
            assert outcome.payment_intent_id is not None
            detail = recording.record_success(
                session, invoice, row, payment_intent_id=outcome.payment_intent_id, now=now
            )
        elif row.state != "pending" or row.attempts != claimed.attempt:
            detail = f"outcome not recorded: the outbox row is {row.state}, attempt {row.attempts}"
        else:
            detail = _record_unsuccessful(session, invoice, row, claimed, outcome, now=now)
        message = outcome.message or detail
        if outcome.kind != SUCCEEDED:
            log.info("invoice %s: %s (%s)", claimed.invoice_number, outcome.kind, message)
        return CollectionResult(
            claimed.invoice_id,
            claimed.invoice_number,
            outcome.kind,
            message,
            outcome.payment_intent_id,
        )


def _record_unsuccessful(
    session: Session,
    invoice: Invoice,
    row: PaymentOutbox,
    claimed: ClaimedCharge,
    outcome: ChargeOutcome,
    *,
    now: datetime,
) -> str:
    message = outcome.message or outcome.kind
    if outcome.kind in (DECLINED, NEEDS_AUTHENTICATION):
        return recording.record_failure(
            session,
            invoice,
            row,
            message=message,
            payment_intent_id=outcome.payment_intent_id,
            now=now,
            retry_at=now + DECLINED_RETRY,
            spent_key=claimed.idempotency_key,
        )
    if outcome.kind == PAYMENT_METHOD_UNUSABLE:
        return recording.record_failure(
            session,
            invoice,
            row,
            message=message,
            payment_intent_id=None,
            now=now,
            retry_at=now + DECLINED_RETRY,
            spent_key=None,
        )
    if outcome.kind == REJECTED:
        return recording.record_failure(
            session,
            invoice,
            row,
            message=message,
            payment_intent_id=None,
            now=now,
            retry_at=now + backoff(row.attempts, REJECTED_FIRST_RETRY, REJECTED_LAST_RETRY),
            spent_key=None,
        )
    if outcome.kind == CONFLICT:
        return recording.record_gave_up(session, invoice, row, message=message, now=now)
    if outcome.kind == PROCESSING:
        return recording.record_retry_later(
            session,
            invoice,
            row,
            message=message,
            payment_intent_id=outcome.payment_intent_id,
            now=now,
            retry_at=now + PROCESSING_RECHECK,
        )
    retry_at = now + backoff(row.attempts, UNREACHABLE_FIRST_RETRY, UNREACHABLE_LAST_RETRY)
    prefix = "Stripe unreachable" if outcome.kind == UNREACHABLE else "charge failed unexpectedly"
    return recording.record_retry_later(
        session,
        invoice,
        row,
        message=f"{prefix}, next try after {retry_at:%Y-%m-%d %H:%M} UTC: {message}",
        payment_intent_id=None,
        now=now,
        retry_at=retry_at,
    )


def backoff(attempts: int, first: timedelta, last: timedelta) -> timedelta:
    """`first`, doubled for every further attempt, never more than `last`."""
    return min(first * 2 ** min(max(attempts - 1, 0), 30), last)
