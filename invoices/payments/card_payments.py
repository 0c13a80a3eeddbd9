"""A customer pays an open invoice by card in the portal, on the invoice's one PaymentIntent.

Two requests, each in three steps like the collector's (`invoices.payments.collection`), so no
database transaction is open while Stripe is called:

1. `start_card_payment` (`POST /v1/invoices/{id}/payment-intent`): the invoice's PaymentIntent
   for the outbox row's current idempotency key — the very one the collector would charge —
   found or made unconfirmed, plus a SetupIntent for the card the customer types. The browser's
   Stripe.js turns the card into a PaymentMethod on that SetupIntent (`confirmCardSetup`).
2. `confirm_card_payment` (`POST /v1/invoices/{id}/payment-intent/confirm {setup_intent_id}`):
   the card the SetupIntent collected is set on the same PaymentIntent, which is confirmed.
   The outcome is recorded as the collector records its own (`invoices.payments.recording`); the
   signed `payment_intent.succeeded` webhook records it too (first one wins), and is the only
   word when the card needed authentication in the browser (`requires_action`).

Never two charges: both steps, and every collector, hold the outbox row's lease
(`PaymentOutbox.leased_until`) while they talk to Stripe, so only one of them at a time can
look up, make or confirm the invoice's PaymentIntent; and a PaymentIntent that succeeded (or is
processing) is returned, never paid again. A second PaymentIntent appears only after a decline
spent the key (localstripe cannot confirm a declined PaymentIntent again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.payments import recording
from invoices.payments.customers import PaymentsNotConfigured, stripe_metadata
from invoices.payments.models import PaymentOutbox
from invoices.payments.stripe_gateway import CardDeclined, StripeGateway, money_moves
from ledger.base import unit_of_work
from ledger.customers.models import Customer
from ledger.errors import Conflict, NotFound

LEASE = timedelta(minutes=2)  # a few Stripe calls, each bounded by the gateway's timeouts


class InvoiceNotPayable(Conflict):
    title = "Invoice not payable"


class PaymentInProgress(Conflict):
    """Someone (the collector, another tab) is talking to Stripe about this invoice right now."""

    title = "Payment in progress"


@dataclass(frozen=True, slots=True)
class CardPaymentStart:
    invoice_id: int
    payment_intent_id: str
    client_secret: str
    status: str
    amount_minor: int
    currency: str
    setup_intent_id: str | None  # None when the invoice needs no card (paid, processing)
    setup_intent_client_secret: str | None


@dataclass(frozen=True, slots=True)
class CardPaymentOutcome:
    invoice_id: int
    payment_intent_id: str
    client_secret: str
    status: str
    invoice_status: str
    payment_status: str
    message: str | None


@dataclass(frozen=True, slots=True)
class _Lease:
    invoice_id: int
    invoice_number: str
    amount_minor: int
    currency: str
    stripe_customer_id: str
    idempotency_key: str
    attempt: int


def start_card_payment(
    session_factory: sessionmaker[Session],
    gateway: StripeGateway | None,
    *,
    invoice_id: int,
    visible_to: int | None,
    now: datetime,
) -> CardPaymentStart:
    lease = _take_lease(session_factory, gateway, invoice_id, visible_to=visible_to, now=now)
    assert gateway is not None
    try:
        intent = gateway.invoice_payment_intent(
            customer_id=lease.stripe_customer_id,
            amount_minor=lease.amount_minor,
            currency=lease.currency,
            invoice_number=lease.invoice_number,
            invoice_id=str(lease.invoice_id),
            idempotency_key=lease.idempotency_key,
        )
        setup = None
        if not money_moves(intent.status):
            setup = gateway.create_card_setup(
                customer_id=lease.stripe_customer_id, invoice_id=str(lease.invoice_id)
            )
    finally:
        _give_back(session_factory, lease, now=now)
    if money_moves(intent.status):
        _record(session_factory, lease, intent.payment_intent_id, intent.status, now=now)
    else:
        _remember_intent(session_factory, lease, intent.payment_intent_id, now=now)
    return CardPaymentStart(
        invoice_id=lease.invoice_id,
        payment_intent_id=intent.payment_intent_id,
        client_secret=intent.client_secret,
        status=intent.status,
        amount_minor=intent.amount_minor,
        currency=intent.currency,
        setup_intent_id=setup.setup_intent_id if setup else None,
        setup_intent_client_secret=setup.client_secret if setup else None,
    )


def confirm_card_payment(
    session_factory: sessionmaker[Session],
    gateway: StripeGateway | None,
    *,
    invoice_id: int,
    setup_intent_id: str,
    visible_to: int | None,
    now: datetime,
) -> CardPaymentOutcome:
    """Raises CardDeclined after recording the decline (the key is then spent: the next
    `start_card_payment` makes a fresh PaymentIntent); PaymentMethodMissing for a SetupIntent
    that is not this invoice's or collected no card; StripeUnreachable."""
    lease = _take_lease(session_factory, gateway, invoice_id, visible_to=visible_to, now=now)
    assert gateway is not None
    declined: CardDeclined | None = None
    result = None
    client_secret = ""
    try:
        method_id = gateway.card_from_setup(
            setup_intent_id,
            customer_id=lease.stripe_customer_id,
            invoice_id=str(lease.invoice_id),
        )
        intent = gateway.invoice_payment_intent(
            customer_id=lease.stripe_customer_id,
            amount_minor=lease.amount_minor,
            currency=lease.currency,
            invoice_number=lease.invoice_number,
            invoice_id=str(lease.invoice_id),
            idempotency_key=lease.idempotency_key,
        )
        client_secret = intent.client_secret
        try:
            result = gateway.confirm_payment_intent(
                intent.payment_intent_id, method_id, off_session=False
            )
        except CardDeclined as error:
            declined = error
    finally:
        _give_back(session_factory, lease, now=now)
    if declined is not None:
        with unit_of_work(session_factory) as session:
            invoice, row = _locked(session, lease.invoice_id)
            recording.record_failure(
                session,
                invoice,
                row,
                message=declined.message,
                payment_intent_id=declined.payment_intent_id,
                now=now,
                retry_at=None,  # the collector's schedule (with the saved card) stays
                spent_key=lease.idempotency_key,
            )
        raise declined
    assert result is not None
    invoice_status, payment_status, message = _record(
        session_factory, lease, result.payment_intent_id, result.status, now=now
    )
    return CardPaymentOutcome(
        invoice_id=lease.invoice_id,
        payment_intent_id=result.payment_intent_id,
        client_secret=client_secret,
        status=result.status,
        invoice_status=invoice_status,
        payment_status=payment_status,
        message=message,
    )


def _take_lease(
    session_factory: sessionmaker[Session],
    gateway: StripeGateway | None,
    invoice_id: int,
    *,
    visible_to: int | None,
    now: datetime,
) -> _Lease:
    """Check the invoice can be paid, mirror its customer to Stripe, and lease its outbox row."""
    with unit_of_work(session_factory) as session:
        invoice = _visible_invoice(session, invoice_id, visible_to)
        _check_payable(invoice)
        customer = session.get(Customer, invoice.customer_id)
        assert customer is not None
        name, email, existing_id = customer.name, customer.email, customer.stripe_customer_id
        metadata = stripe_metadata(customer)
    if gateway is None:
        raise PaymentsNotConfigured(
            "Stripe is not configured on this server (HOURGLASS_STRIPE_API_KEY is not set), "
            "so invoices cannot be paid by card"
        )
    stripe_customer_id = gateway.ensure_customer(
        name=name, email=email, existing_id=existing_id, metadata=metadata
    )
    with unit_of_work(session_factory) as session:
        invoice, row = _locked(session, invoice_id)
        if existing_id != stripe_customer_id:
            customer = session.get(Customer, invoice.customer_id)
            assert customer is not None
            customer.stripe_customer_id = stripe_customer_id
            customer.updated_at = now
        _check_payable(invoice)
        if row.state != "pending":
            raise InvoiceNotPayable(
                f"invoice {invoice.number} cannot be paid by card: its collection is {row.state}"
            )
        if row.leased_until is not None and row.leased_until > now:
            raise PaymentInProgress(
                f"a payment of invoice {invoice.number} is being made right now; "
                "try again in a minute"
            )
        row.attempts += 1
        row.leased_until = now + LEASE
        row.updated_at = now
        assert invoice.id is not None and invoice.number is not None
        return _Lease(
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            stripe_customer_id=stripe_customer_id,
            idempotency_key=row.idempotency_key,
            attempt=row.attempts,
        )


def _visible_invoice(session: Session, invoice_id: int, visible_to: int | None) -> Invoice:
    invoice = session.scalar(select(Invoice).where(col(Invoice.id) == invoice_id))
    if invoice is None or invoice.status == "draft":
        raise NotFound(f"no invoice {invoice_id}")
    if visible_to is not None and invoice.customer_id != visible_to:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def _check_payable(invoice: Invoice) -> None:
    if invoice.status != "issued" or invoice.payment_status == "succeeded":
        raise InvoiceNotPayable(f"invoice {invoice.number} is {invoice.status}: nothing to pay")
    if invoice.total_minor <= 0:
        raise InvoiceNotPayable(f"invoice {invoice.number} has nothing to pay")


def _locked(session: Session, invoice_id: int) -> tuple[Invoice, PaymentOutbox]:
    """The invoice, then its outbox row, locked in the order collectors and voids use."""
    invoice = session.scalar(select(Invoice).where(col(Invoice.id) == invoice_id).with_for_update())
    row = session.scalar(
        select(PaymentOutbox).where(col(PaymentOutbox.invoice_id) == invoice_id).with_for_update()
    )
    assert invoice is not None
    if row is None:
        raise InvoiceNotPayable(f"invoice {invoice.number} is not collected through Stripe")
    return invoice, row


def _give_back(session_factory: sessionmaker[Session], lease: _Lease, *, now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        _, row = _locked(session, lease.invoice_id)
        if row.attempts == lease.attempt:  # still ours (a lease that ran out may be another's)
            row.leased_until = None
            row.updated_at = now


def _remember_intent(
    session_factory: sessionmaker[Session], lease: _Lease, payment_intent_id: str, *, now: datetime
) -> None:
    """Keep the PaymentIntent's id on the row, so a webhook finds the invoice by it as well."""
    with unit_of_work(session_factory) as session:
        _, row = _locked(session, lease.invoice_id)
        if row.state == "pending" and row.idempotency_key == lease.idempotency_key:
            row.payment_intent_id = payment_intent_id
            row.updated_at = now


def _record(
    session_factory: sessionmaker[Session],
    lease: _Lease,
    payment_intent_id: str,
    status: str,
    *,
    now: datetime,
) -> tuple[str, str, str | None]:
    """What Stripe answered, recorded as the collector records it; returns the invoice's
    status, payment status and message after it."""
    with unit_of_work(session_factory) as session:
        invoice, row = _locked(session, lease.invoice_id)
        if status == "succeeded":
            recording.record_success(
                session, invoice, row, payment_intent_id=payment_intent_id, now=now
            )
        elif money_moves(status) and not recording.is_settled(invoice):
            invoice.payment_status = "pending"
            invoice.payment_failure_message = recording.clip(
                f"payment {payment_intent_id} is {status} at Stripe"
            )
            row.payment_intent_id = payment_intent_id
        # requires_action: the browser authenticates the card; the webhook tells the outcome.
        session.flush()
        return invoice.status, invoice.payment_status, invoice.payment_failure_message
