"""Configuration from the environment (`HOURGLASS_*`), read once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issuer:
    """Who issues the invoices: printed on every PDF, and the scope of invoice numbering."""

    name: str = "Hourglass Services GmbH"
    address: tuple[str, ...] = ("Friedrichstraße 1", "10117 Berlin", "Germany")
    tax_id: str = "DE000000000"
    email: str = "billing@hourglass.example"
    payment_instructions: tuple[str, ...] = (
        "Bank transfer to IBAN DE00 0000 0000 0000 0000 00, BIC HGLSDEBBXXX,",
        "quoting the invoice number; or by card through the customer portal.",
    )


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./hourglass.db"
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: str | None = None
    # The portal's card form: Stripe.js is loaded from `stripe_js_url` (localstripe's mock in
    # tests) and given the publishable key; without a key the portal offers no card payment.
    stripe_publishable_key: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"
    issuer: Issuer = field(default_factory=Issuer)
    # Operations (SPEC "Operations"): see docs/deploy.md.
    auto_billing: bool = False
    metrics_public: str = "loopback"  # "true" | "false" | "loopback"
    log_format: str = "text"  # "text" | "json"


def _lines(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(line.strip() for line in value.split("|") if line.strip())


def load_settings() -> Settings:
    env = os.environ
    default_issuer = Issuer()
    issuer = Issuer(
        name=env.get("HOURGLASS_ISSUER_NAME", default_issuer.name),
        address=_lines(env.get("HOURGLASS_ISSUER_ADDRESS"), default_issuer.address),
        tax_id=env.get("HOURGLASS_ISSUER_TAX_ID", default_issuer.tax_id),
        email=env.get("HOURGLASS_ISSUER_EMAIL", default_issuer.email),
        payment_instructions=_lines(
            env.get("HOURGLASS_ISSUER_PAYMENT_INSTRUCTIONS"), default_issuer.payment_instructions
        ),
    )
    return Settings(
        database_url=env.get("HOURGLASS_DATABASE_URL", Settings.database_url),
        stripe_api_key=env.get("HOURGLASS_STRIPE_API_KEY") or None,
        stripe_api_base=env.get("HOURGLASS_STRIPE_API_BASE") or None,
        stripe_webhook_secret=env.get("HOURGLASS_STRIPE_WEBHOOK_SECRET") or None,
        stripe_publishable_key=env.get("HOURGLASS_STRIPE_PUBLISHABLE_KEY") or None,
        stripe_js_url=env.get("HOURGLASS_STRIPE_JS_URL") or Settings.stripe_js_url,
        issuer=issuer,
        auto_billing=_flag(env.get("HOURGLASS_AUTO_BILLING")),
        metrics_public=_metrics_access(env.get("HOURGLASS_METRICS_PUBLIC")),
        log_format="json" if env.get("HOURGLASS_LOG_FORMAT", "").lower() == "json" else "text",
    )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _metrics_access(value: str | None) -> str:
    """Unset or unknown: the safe default, open on loopback only."""
    value = (value or "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return "true"
    if value in ("0", "false", "no", "off"):
        return "false"
    return "loopback"
