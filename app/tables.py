"""Imports every table model so `metadata` is complete (Alembic, tests, the app)."""

from app.auth.models import ApiToken
from ledger.base import metadata
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.customers.models import Customer

__all__ = ["ApiToken", "Contract", "Customer", "Plan", "metadata"]
