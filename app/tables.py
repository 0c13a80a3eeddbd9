"""Imports every table model so `metadata` is complete (Alembic, tests, the app)."""

from app.auth.models import ApiToken
from app.idempotency.models import IdempotencyKey
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
