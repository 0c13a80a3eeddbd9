"""Plan terms used when a plan does not set its own: the seed documents' tables.

The SLA tables (seed 003's credit tiers and premium response targets) are defined once, with
the SLA rules in `ledger/sla/`; the catalogue only points at them.
"""

from __future__ import annotations

from decimal import Decimal

from ledger.sla.availability import DEFAULT_AVAILABILITY_TARGET_PERCENT, DEFAULT_CREDIT_TIERS
from ledger.sla.response import DEFAULT_RESPONSE_TARGETS

DEFAULT_BILLING_INCREMENT_MINUTES = 15
DEFAULT_ANNUAL_DISCOUNT_PERCENT = Decimal("10")
DEFAULT_COMPONENTS = [{"name": "platform", "share_percent": "100"}]

__all__ = [
    "DEFAULT_ANNUAL_DISCOUNT_PERCENT",
    "DEFAULT_AVAILABILITY_TARGET_PERCENT",
    "DEFAULT_BILLING_INCREMENT_MINUTES",
    "DEFAULT_COMPONENTS",
    "DEFAULT_CREDIT_TIERS",
    "DEFAULT_RESPONSE_TARGETS",
]
