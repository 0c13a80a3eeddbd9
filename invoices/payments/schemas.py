"""Request and response bodies of the payments API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ledger.validation import Input


class PaymentMethodCreate(BaseModel):
    payment_method_id: str = Field(
        min_length=1, max_length=255, description="a Stripe PaymentMethod made client-side"
    )


class WebhookReceived(BaseModel):
    received: bool = True
    event_id: str
    duplicate: bool
    outcome: str


class CardPaymentRead(BaseModel):
    """What the portal needs to take a card for one invoice with Stripe.js."""

    invoice_id: int
    publishable_key: str
    payment_intent_id: str
    client_secret: str = Field(description="the PaymentIntent's, for Stripe.js")
    status: str = Field(description="the PaymentIntent's status at Stripe")
    amount: str
    currency: str
    setup_intent_id: str | None = Field(
        description="the SetupIntent collecting the card (`confirmCardSetup`); null if paid"
    )
    setup_intent_client_secret: str | None


class CardPaymentConfirm(Input):
    setup_intent_id: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^seti_\w+$",
        description="the SetupIntent `confirmCardSetup` succeeded on; its card is charged",
    )


class CardPaymentResult(BaseModel):
    invoice_id: int
    payment_intent_id: str
    client_secret: str
    status: str = Field(
        description="the PaymentIntent's: `succeeded`, `processing`, or `requires_action` "
        "(authenticate with Stripe.js `confirmCardPayment(client_secret)`)"
    )
    invoice_status: str
    payment_status: str
    message: str | None
