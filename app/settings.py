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
    issuer: Issuer = field(default_factory=Issuer)
    # Billing runs: contracts per chunk transaction, and whether this process runs a background
    # worker (`hourglass serve` turns it on; tests and one-off commands leave it off).
    billing_chunk_size: int = 200
    background_worker: bool = False
    document_processes: int = 1  # processes rendering documents; load_settings: one per core


def _lines(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(line.strip() for line in value.split("|") if line.strip())


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
        issuer=issuer,
        billing_chunk_size=max(1, int(env.get("HOURGLASS_BILLING_CHUNK_SIZE") or 200)),
        document_processes=max(1, int(env.get("HOURGLASS_DOCUMENT_PROCESSES") or _cores())),
        background_worker=env.get("HOURGLASS_BACKGROUND_WORKER", "").lower()
        in ("1", "true", "yes"),
    )
