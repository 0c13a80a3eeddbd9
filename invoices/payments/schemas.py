"""Request and response bodies of the payments API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PaymentMethodCreate(BaseModel):
    payment_method_id: str = Field(
        min_length=1, max_length=255, description="a Stripe PaymentMethod made client-side"
    )


class WebhookReceived(BaseModel):
    received: bool = True
    event_id: str
    duplicate: bool
    outcome: str
