"""Imports every table model so `metadata` is complete (Alembic, tests, the app)."""

from app.auth.models import ApiToken
from app.idempotency.models import IdempotencyKey
from invoices import models as invoice_models  # noqa: F401  (invoices, credit notes, …)
from invoices.documents import models as document_models  # noqa: F401  (stored documents)
from invoices.payments import models as payment_models  # noqa: F401  (payment outbox)
from invoices.payments import stripe_events  # noqa: F401  (webhook events handled)
from invoices.runs import models as run_models  # noqa: F401  (billing runs and jobs)
from ledger.base import metadata
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer
from ledger.hours.models import Allotment, ClosedPeriod, LedgerEntry, PeriodOverage, Pool, WorkEntry
from ledger.sla import models as sla_models  # noqa: F401  (incidents, tickets, contacts)

__all__ = [
    "Allotment",
    "ApiToken",
    "ClosedPeriod",
    "Contract",
    "Customer",
    "IdempotencyKey",
    "LedgerEntry",
    "PeriodOverage",
    "Plan",
    "Pool",
    "WorkEntry",
    "metadata",
]
