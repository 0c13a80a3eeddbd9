"""A plan version's SLA terms, read from its JSON columns into the types the pure modules take.

The plan service stores decimals as strings and times as "HH:MM"; this is the one place that
reads them back, so availability, tickets and contacts agree on what a plan promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from decimal import Decimal

from ledger.catalog.models import Plan
from ledger.sla.calendar import BusinessHours
from ledger.sla.response import ResponseTarget


def components(plan: Plan) -> list[tuple[str, Decimal]]:
    """(name, share of the fee in percent), in the plan's order."""
    return [(str(c["name"]), Decimal(str(c["share_percent"]))) for c in plan.components]


def credit_tiers(plan: Plan) -> list[tuple[Decimal, Decimal]]:
    return [
        (Decimal(str(t["below_percent"])), Decimal(str(t["credit_percent"])))
        for t in plan.credit_tiers
    ]


def response_targets(plan: Plan) -> Mapping[str, ResponseTarget]:
    return {
        severity: ResponseTarget(int(target["minutes"]), target["calendar"])
        for severity, target in plan.response_targets.items()
    }


def business_hours(plan: Plan) -> BusinessHours:
    hours = plan.business_hours
    return BusinessHours(
        start=time.fromisoformat(str(hours["start"])),
        end=time(0) if hours["end"] == "24:00" else time.fromisoformat(str(hours["end"])),
        weekdays=frozenset(int(day) for day in hours["weekdays"]),
    )
