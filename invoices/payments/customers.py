"""Customers mirrored to Stripe, and the payment method an invoice is collected with.

A Stripe customer is created on first need (when a payment method is saved) and its id kept on
the customer. Stripe is called between two short transactions, never inside one. A crash after
Stripe made the customer but before its id was stored leaves no twin: `ensure_customer` finds
it again by our customer id in its metadata.

Saving a payment method re-arms the customer's uncollected invoices (due at once), so a declined
invoice, or one that waited for a method, is collected by the next collection.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.payments.models import PaymentOutbox
from invoices.payments.stripe_gateway import (
    CardDeclined,
    PaymentMethodMissing,
    PaymentMethodTaken,
    StripeGateway,
    StripeRequestRejected,
)
from ledger.base import unit_of_work
from ledger.customers.models import Customer
from ledger.customers.service import get_customer
from ledger.errors import Conflict, DomainError, InvalidInput


class PaymentsNotConfigured(DomainError):
    title = "Payments not configured"


class PaymentMethodRefused(InvalidInput):
    title = "Payment method refused"


class PaymentMethodOfAnother(Conflict):
    title = "Payment method of another customer"


def stripe_metadata(customer: Customer) -> dict[str, str]:
    return {"hourglass_customer_id": str(customer.id)}


def save_default_payment_method(
    session_factory: sessionmaker[Session],
    gateway: StripeGateway | None,
    *,
    customer_id: int,
    payment_method_id: str,
    visible_to: int | None,
    now: datetime,
) -> Customer:
    """Attach a PaymentMethod (made client-side) as the customer's default, mirroring the
    customer to Stripe first if needed. Raises NotFound, PaymentsNotConfigured,
    PaymentMethodRefused; StripeUnreachable passes through (nothing was stored)."""
    with unit_of_work(session_factory) as session:
        customer = get_customer(session, customer_id, visible_to=visible_to)
        name, email, existing_id = customer.name, customer.email, customer.stripe_customer_id
        metadata = stripe_metadata(customer)
    if gateway is None:
        raise PaymentsNotConfigured(
            "Stripe is not configured on this server (HOURGLASS_STRIPE_API_KEY is not set), "
            "so no payment method can be saved"
        )
    stripe_customer_id = gateway.ensure_customer(
        name=name, email=email, existing_id=existing_id, metadata=metadata
    )
    try:
        attached_id = gateway.attach_default_payment_method(stripe_customer_id, payment_method_id)
    except PaymentMethodTaken as error:
        with unit_of_work(session_factory) as session:  # keep the mirror even so
            _store_stripe_customer(session, customer_id, stripe_customer_id, now=now)
        raise PaymentMethodOfAnother(error.message, field="payment_method_id") from error
    except (CardDeclined, PaymentMethodMissing, StripeRequestRejected) as error:
        with unit_of_work(session_factory) as session:  # keep the mirror even so
            _store_stripe_customer(session, customer_id, stripe_customer_id, now=now)
        raise PaymentMethodRefused(
            f"Stripe refused payment method {payment_method_id!r}: {error.message}",
            field="payment_method_id",
        ) from error
    with unit_of_work(session_factory) as session:
        customer = _store_stripe_customer(session, customer_id, stripe_customer_id, now=now)
        customer.default_payment_method_id = attached_id
        rearm_uncollected_invoices(session, customer_id, now=now)
        session.flush()
        return customer


def _store_stripe_customer(
    session: Session, customer_id: int, stripe_customer_id: str, *, now: datetime
) -> Customer:
    customer = session.scalar(
        select(Customer).where(col(Customer.id) == customer_id).with_for_update()
    )
    assert customer is not None
    if customer.stripe_customer_id != stripe_customer_id:
        customer.stripe_customer_id = stripe_customer_id
        customer.updated_at = now
    session.flush()
    return customer


def rearm_uncollected_invoices(session: Session, customer_id: int, *, now: datetime) -> int:
    """Make the customer's waiting outbox rows due now; returns how many.

    Invoices a collector holds right now (`payment_status = 'pending'`) are left alone, so a
    lease stays exclusive. The invoices are locked first (the order collectors and voids use),
    and their status is read after the lock, so a lease committed meanwhile is seen.
    """
    invoices = session.execute(
        select(col(Invoice.id), col(Invoice.payment_status))
        .where(col(Invoice.customer_id) == customer_id, col(Invoice.status) == "issued")
        .order_by(col(Invoice.id))
        .with_for_update(of=Invoice)  # type: ignore[arg-type]
    ).all()
    waiting = [invoice_id for invoice_id, payment_status in invoices if payment_status != "pending"]
    if not waiting:
        return 0
    rows = session.scalars(
        select(PaymentOutbox)
        .where(
            col(PaymentOutbox.invoice_id).in_(waiting),
            col(PaymentOutbox.state) == "pending",
            col(PaymentOutbox.next_attempt_at) > now,
        )
        .with_for_update()
    ).all()
    for row in rows:
        row.next_attempt_at = now
        row.updated_at = now
    session.flush()
    return len(rows)
