"""Payments: saving a customer's payment method, paying an invoice by card, Stripe's webhook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from app.dependencies import FinanceOrCustomer, SessionDep
from app.payments import GatewayDep
from invoices.payments import (
    CardDeclined,
    IdempotencyConflict,
    InvalidWebhook,
    PaymentGatewayError,
    PaymentMethodMissing,
    StripeGateway,
    StripeUnreachable,
)
from invoices.payments.card_payments import confirm_card_payment, start_card_payment
from invoices.payments.customers import PaymentsNotConfigured, save_default_payment_method
from invoices.payments.schemas import (
    CardPaymentConfirm,
    CardPaymentRead,
    CardPaymentResult,
    PaymentMethodCreate,
    WebhookReceived,
)
from invoices.payments.webhooks import handle_event
from ledger import money
from ledger.base import utcnow
from ledger.customers.schemas import CustomerRead
from ledger.customers.service import to_read
from ledger.errors import InvalidInput

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


def _publishable_key(request: Request, gateway: StripeGateway | None) -> str:
    key: str | None = request.app.state.settings.stripe_publishable_key
    if gateway is None or not key:
        raise HTTPException(
            503,
            "card payments are not configured on this server: set HOURGLASS_STRIPE_API_KEY and "
            "HOURGLASS_STRIPE_PUBLISHABLE_KEY",
        )
    return key


def _stripe_failed(exc: PaymentGatewayError) -> HTTPException:
    if isinstance(exc, StripeUnreachable):
        return HTTPException(
            503, f"{exc.message}; nothing was charged, try again", headers={"Retry-After": "30"}
        )
    if isinstance(exc, IdempotencyConflict):
        return HTTPException(
            409, f"Stripe holds a different charge for this invoice: {exc.message}"
        )
    return HTTPException(502, f"Stripe refused the request: {exc.message}")


@router.post("/v1/invoices/{invoice_id}/payment-intent", response_model=CardPaymentRead)
def create_payment_intent(
    invoice_id: int, request: Request, who: FinanceOrCustomer, gateway: GatewayDep
) -> CardPaymentRead:
    """The invoice's one PaymentIntent (the same one on every call, the one the collection
    would charge) and a SetupIntent for the card. Then, in the browser,
    `stripe.confirmCardSetup(setup_intent_client_secret, {payment_method: {card}})`, and
    `POST /v1/invoices/{id}/payment-intent/confirm {setup_intent_id}`. The invoice's customer
    or finance; 409 while the invoice is paid, void, or being charged right now."""
    key = _publishable_key(request, gateway)
    try:
        started = start_card_payment(
            request.app.state.session_factory,
            gateway,
            invoice_id=invoice_id,
            visible_to=who.visible_customer,
            now=utcnow(),
        )
    except PaymentGatewayError as exc:
        raise _stripe_failed(exc) from exc
    return CardPaymentRead(
        invoice_id=started.invoice_id,
        publishable_key=key,
        payment_intent_id=started.payment_intent_id,
        client_secret=started.client_secret,
        status=started.status,
        amount=money.format_amount(started.amount_minor, started.currency),
        currency=started.currency,
        setup_intent_id=started.setup_intent_id,
        setup_intent_client_secret=started.setup_intent_client_secret,
    )


@router.post("/v1/invoices/{invoice_id}/payment-intent/confirm", response_model=CardPaymentResult)
def confirm_payment_intent(
    invoice_id: int,
    body: CardPaymentConfirm,
    request: Request,
    who: FinanceOrCustomer,
    gateway: GatewayDep,
) -> CardPaymentResult:
    """Charge the card the SetupIntent collected on the invoice's PaymentIntent. 402 when the
    card is declined (recorded on the invoice; a new `payment-intent` call starts over)."""
    _publishable_key(request, gateway)
    try:
        outcome = confirm_card_payment(
            request.app.state.session_factory,
            gateway,
            invoice_id=invoice_id,
            setup_intent_id=body.setup_intent_id,
            visible_to=who.visible_customer,
            now=utcnow(),
        )
    except CardDeclined as exc:
        raise HTTPException(402, f"the card was declined: {exc.message}") from exc
    except PaymentMethodMissing as exc:
        raise InvalidInput(exc.message, field="setup_intent_id") from exc
    except PaymentGatewayError as exc:
        raise _stripe_failed(exc) from exc
    return CardPaymentResult(
        invoice_id=outcome.invoice_id,
        payment_intent_id=outcome.payment_intent_id,
        client_secret=outcome.client_secret,
        status=outcome.status,
        invoice_status=outcome.invoice_status,
        payment_status=outcome.payment_status,
        message=outcome.message,
    )


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
