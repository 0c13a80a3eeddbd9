"""Configuration from the environment (`HOURGLASS_*`), read once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.customers.einvoice_fields import check_bic, check_iban, check_vat_id


@dataclass(frozen=True)
class Issuer:
    """Who issues the invoices: printed on every PDF and e-invoice, and the scope of numbering.

    The defaults are sample data. `load_settings` marks them `sample` until
    `HOURGLASS_ISSUER_NAME` is set: every PDF then carries a visible "SAMPLE — not a valid
    invoice" mark. (Built in code, as tests do, they stand for a configured issuer.)
    """

    name: str = "Hourglass Services GmbH"
    address: tuple[str, ...] = ("Friedrichstraße 1", "10117 Berlin", "Germany")
    street: str = "Friedrichstraße 1"
    city: str = "Berlin"
    postal_code: str = "10117"
    country: str = "DE"
    tax_id: str = "DE136695976"  # HOURGLASS_ISSUER_VAT_ID (or the older _TAX_ID)
    email: str = "billing@hourglass.example"
    phone: str = "+49 30 0000000"
    contact_name: str = "Billing team"
    iban: str = "DE89370400440532013000"
    bic: str | None = "COBADEFFXXX"
    payment_instructions: tuple[str, ...] = (
        "Bank transfer quoting the invoice number; or by card through the customer portal.",
    )
    sample: bool = False


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
    smtp_url: str | None = None  # smtp://user:pass@host:port, smtps:// for TLS
    mail_from: str | None = None
    issuer: Issuer = field(default_factory=Issuer)
    # Operations (SPEC "Operations"): see docs/deploy.md.
    auto_billing: bool = False
    metrics_public: str = "loopback"  # "true" | "false" | "loopback"
    log_format: str = "text"  # "text" | "json"
    # Billing runs: contracts per chunk transaction, and whether this process runs a background
    # worker (`hourglass serve` turns it on; tests and one-off commands leave it off).
    billing_chunk_size: int = 500  # invoices.runs.chunks.DEFAULT_CHUNK
    background_worker: bool = False
    document_processes: int = 1  # processes rendering documents; load_settings: one per core


def _lines(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(line.strip() for line in value.split("|") if line.strip())


def load_issuer(env: Mapping[str, str]) -> Issuer:
    """The issuer from the `HOURGLASS_ISSUER_…` variables.

    An IBAN, BIC or VAT id that does not check out stops the start."""
    if not env.get("HOURGLASS_ISSUER_NAME"):
        return Issuer(sample=True)

    def get(name: str, fallback: str) -> str:
        return env.get(f"HOURGLASS_ISSUER_{name}", "").strip() or fallback

    country = get("COUNTRY", "").upper()
    vat_id = get("VAT_ID", get("TAX_ID", ""))
    iban = get("IBAN", "")
    bic = get("BIC", "")
    try:
        vat_id = check_vat_id(vat_id, country or None) if vat_id else ""
        iban = check_iban(iban) if iban else ""
        bic = check_bic(bic) if bic else ""
    except ValueError as exc:
        raise ValueError(f"issuer settings (HOURGLASS_ISSUER_…): {exc}") from exc
    street, city, postal_code = get("STREET", ""), get("CITY", ""), get("POSTAL_CODE", "")
    structured = (street, f"{postal_code} {city}".strip())
    return Issuer(
        name=env["HOURGLASS_ISSUER_NAME"].strip(),
        address=_lines(env.get("HOURGLASS_ISSUER_ADDRESS"), tuple(p for p in structured if p)),
        street=street,
        city=city,
        postal_code=postal_code,
        country=country,
        tax_id=vat_id,
        email=get("EMAIL", ""),
        phone=get("PHONE", ""),
        contact_name=get("CONTACT_NAME", ""),
        iban=iban,
        bic=bic or None,
        payment_instructions=_lines(env.get("HOURGLASS_ISSUER_PAYMENT_INSTRUCTIONS"), ()),
        sample=False,
    )


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_settings() -> Settings:
    env = os.environ
    issuer = load_issuer(env)
    return Settings(
        database_url=env.get("HOURGLASS_DATABASE_URL", Settings.database_url),
        stripe_api_key=env.get("HOURGLASS_STRIPE_API_KEY") or None,
        stripe_api_base=env.get("HOURGLASS_STRIPE_API_BASE") or None,
        stripe_webhook_secret=env.get("HOURGLASS_STRIPE_WEBHOOK_SECRET") or None,
        stripe_publishable_key=env.get("HOURGLASS_STRIPE_PUBLISHABLE_KEY") or None,
        stripe_js_url=env.get("HOURGLASS_STRIPE_JS_URL") or Settings.stripe_js_url,
        smtp_url=env.get("HOURGLASS_SMTP_URL") or None,
        mail_from=env.get("HOURGLASS_MAIL_FROM") or None,
        issuer=issuer,
        auto_billing=_flag(env.get("HOURGLASS_AUTO_BILLING")),
        metrics_public=_metrics_access(env.get("HOURGLASS_METRICS_PUBLIC")),
        log_format="json" if env.get("HOURGLASS_LOG_FORMAT", "").lower() == "json" else "text",
        billing_chunk_size=max(
            1, int(env.get("HOURGLASS_BILLING_CHUNK_SIZE") or Settings.billing_chunk_size)
        ),
        document_processes=max(1, int(env.get("HOURGLASS_DOCUMENT_PROCESSES") or _cores())),
        background_worker=env.get("HOURGLASS_BACKGROUND_WORKER", "").lower()
        in ("1", "true", "yes"),
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
