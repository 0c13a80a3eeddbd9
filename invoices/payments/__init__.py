"""Collecting issued invoices through Stripe; `stripe_gateway` is the only module that calls it."""

from invoices.payments.stripe_gateway import (
    CardDeclined,
    ChargeResult,
    IdempotencyConflict,
    InvalidWebhook,
    PaymentGatewayError,
    PaymentMethodMissing,
    StripeConfig,
    StripeGateway,
    StripeRequestRejected,
    StripeUnreachable,
)

__all__ = [
    "CardDeclined",
    "ChargeResult",
    "IdempotencyConflict",
    "InvalidWebhook",
    "PaymentGatewayError",
    "PaymentMethodMissing",
    "StripeConfig",
    "StripeGateway",
    "StripeRequestRejected",
    "StripeUnreachable",
]
