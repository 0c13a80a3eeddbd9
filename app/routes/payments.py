"""Payments: saving a customer's payment method, and Stripe's webhook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from app.dependencies import FinanceOrCustomer, SessionDep
from app.payments import GatewayDep
from invoices.payments import InvalidWebhook, StripeUnreachable
from invoices.payments.customers import PaymentsNotConfigured, save_default_payment_method
from invoices.payments.schemas import PaymentMethodCreate, WebhookReceived
from invoices.payments.webhooks import handle_event
from ledger.base import utcnow
from ledger.customers.schemas import CustomerRead
from ledger.customers.service import to_read

router = APIRouter(tags=["payments"])


@router.post("/v1/customers/{customer_id}/payment-method", response_model=CustomerRead)
def save_payment_method(
    customer_id: int,
    body: PaymentMethodCreate,
    request: Request,
    who: FinanceOrCustomer,
    gateway: GatewayDep,
) -> CustomerRead:
    """Attach the PaymentMethod as the customer's default; its uncollected invoices are then
    collected by the next collection. Finance, or the customer's own token."""
    try:
        customer = save_default_payment_method(
            request.app.state.session_factory,
            gateway,
            customer_id=customer_id,
            payment_method_id=body.payment_method_id,
            visible_to=who.visible_customer,
            now=utcnow(),
        )
    except PaymentsNotConfigured as exc:
        raise HTTPException(503, exc.detail) from exc
    except StripeUnreachable as exc:
        raise HTTPException(
            503, f"{exc.message}; nothing was saved, try again", headers={"Retry-After": "30"}
        ) from exc
    return to_read(customer)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/v1/stripe/webhook", response_model=WebhookReceived)
def stripe_webhook(
    request: Request,
    payload: Annotated[bytes, Depends(_raw_body)],
    session: SessionDep,
    gateway: GatewayDep,
) -> WebhookReceived:
    """Called by Stripe, without a bearer token: the `Stripe-Signature` header is checked with
    HOURGLASS_STRIPE_WEBHOOK_SECRET. Each event is applied once; a redelivery is acknowledged."""
    if gateway is None or not request.app.state.settings.stripe_webhook_secret:
        raise HTTPException(
            503,
            "Stripe webhooks are not configured on this server: set HOURGLASS_STRIPE_API_KEY "
            "and HOURGLASS_STRIPE_WEBHOOK_SECRET",
        )
    try:
        event = gateway.verify_webhook(payload, request.headers.get("stripe-signature"))
        outcome = handle_event(session, event, now=utcnow())
    except InvalidWebhook as exc:
        raise HTTPException(400, exc.message) from exc
    return WebhookReceived(
        event_id=outcome.event_id, duplicate=outcome.duplicate, outcome=outcome.outcome
    )
