"""Plan terms used when a plan does not set its own: the seed documents' tables."""

from __future__ import annotations

from decimal import Decimal

DEFAULT_BILLING_INCREMENT_MINUTES = 15
DEFAULT_ANNUAL_DISCOUNT_PERCENT = Decimal("10")
DEFAULT_AVAILABILITY_TARGET_PERCENT = Decimal("99.99")

# Seed 003 (commercetools premium): availability below `below_percent` earns `credit_percent`
# of that month's fee for the impacted component; the lowest threshold that applies wins.
DEFAULT_CREDIT_TIERS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("99.99"), Decimal("10")),
    (Decimal("99.0"), Decimal("25")),
    (Decimal("95.0"), Decimal("50")),
)

# Seed 003's premium first-response targets: minutes, and the calendar they run on.
DEFAULT_RESPONSE_TARGETS: dict[str, tuple[int, str]] = {
    "S1": (20, "24x7"),
    "S2": (90, "24x7"),
    "S3": (6 * 60, "business"),
    "S4": (24 * 60, "business"),
}

DEFAULT_BUSINESS_HOURS = {"start": "09:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5]}
DEFAULT_COMPONENTS = [{"name": "platform", "share_percent": "100"}]
