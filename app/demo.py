"""`hourglass demo`: plans modelled on the seed vendors' offers, a few customers and contracts.

Running it twice changes nothing: it stops if the demo plans are already there.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.catalog.models import Plan
from ledger.catalog.schemas import PlanCreate
from ledger.catalog.service import create_plan
from ledger.contracts.schemas import ContractCreate
from ledger.contracts.service import create_contract
from ledger.customers.schemas import CustomerCreate
from ledger.customers.service import create_customer
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from ledger.periods import add_months, month_label

DEMO_PLANS = [
    # Seed 004: an agency's monthly support package; unused hours expire, two months may pool,
    # 10 % off for a one-year contract.
    {
        "code": "agency-20",
        "name": "Agency support package, 20 h/month",
        "currency": "EUR",
        "fee": "2000.00",
        "included_hours": "20",
        "overage_rate": "110.00",
        "on_demand_rate": "130.00",
        "pooling_allowed": True,
        "annual_discount_percent": "10",
        "components": [{"name": "platform", "share_percent": "100"}],
        "response_targets": {
            "S1": {"minutes": 60, "calendar": "24x7"},
            "S2": {"minutes": 240, "calendar": "business"},
            "S3": {"minutes": 480, "calendar": "business"},
            "S4": {"minutes": 960, "calendar": "business"},
        },
        "after_hours_multiplier": "1.5",
        "after_hours_levels": [1],
    },
    # Seeds 000-002: a VTEX-like tiered plan in BRL: 15 min for critical, 8 business hours for
    # regular tickets, a limited number of authorized contacts per tier.
    {
        "code": "vtex-corporate",
        "name": "Corporate support (tier 2)",
        "currency": "BRL",
        "fee": "9500.00",
        "included_hours": "30",
        "overage_rate": "350.00",
        "components": [
            {"name": "checkout", "share_percent": "60"},
            {"name": "catalog", "share_percent": "40"},
        ],
        "response_targets": {
            "S1": {"minutes": 15, "calendar": "24x7"},
            "S2": {"minutes": 480, "calendar": "business"},
            "S3": {"minutes": 480, "calendar": "business"},
            "S4": {"minutes": 480, "calendar": "business"},
        },
        "authorized_contacts": 2,
    },
    # Seed 003: commercetools-like premium support, quarterly expert hours that do not roll
    # over, 99.99 % availability with the 10/25/50 % credit tiers.
    {
        "code": "premium-quarterly",
        "name": "Premium support with expert service hours",
        "currency": "USD",
        "fee": "15000.00",
        "period": "quarter",
        "included_hours": "32",
        "overage_rate": "250.00",
        "availability_target_percent": "99.99",
        "components": [
            {"name": "api", "share_percent": "70"},
            {"name": "merchant-center", "share_percent": "30"},
        ],
    },
]

DEMO_CUSTOMERS = [
    {
        "name": "Müller & Söhne GmbH",
        "email": "buchhaltung@mueller-soehne.example",
        "country": "DE",
        "timezone": "Europe/Berlin",
        "holiday_region": "DE-BE",
        "tax_rate_percent": "19",
        "address": ["Kastanienallee 12", "10435 Berlin", "Germany"],
    },
    {
        "name": "São Paulo Comércio Ltda",
        "email": "financeiro@spcomercio.example",
        "country": "BR",
        "timezone": "America/Sao_Paulo",
        "holiday_region": "BR-SP",
        "address": ["Rua Augusta 1500", "01304-001 São Paulo SP", "Brazil"],
    },
    {
        "name": "Pacific Outfitters Inc.",
        "email": "ap@pacific-outfitters.example",
        "country": "US",
        "timezone": "America/Los_Angeles",
        "holiday_region": "US-CA",
        "payment_terms_days": 45,
        "address": ["500 Market Street", "San Francisco, CA 94105", "USA"],
    },
]


DEMO_WORK = [
    # (day of month, minutes, level, ticket, description)
    (2, 95, 3, "SUP-1001", "Checkout shows the wrong shipping rate for Austria"),
    (3, 240, 2, "SUP-1002", "Catalog import drops variants with umlauts"),
    (7, 45, 4, "SUP-1003", "Add a banner to the landing page"),
    (9, 480, 1, "SUP-1004", "Payment provider outage: failover and reconciliation"),
    (14, 130, 3, "SUP-1005", "Search returns no results for SKUs with dashes"),
    (16, 60, 4, "SUP-1006", "Extension update and smoke test"),
    (21, 300, 2, "SUP-1007", "Transactional e-mails not sent after deploy"),
    (23, 75, 4, "SUP-1008", "Online training for two new editors"),
    (28, 510, 3, "SUP-1009", "Performance review of the product listing pages"),
]


def load_demo(session: Session, *, today: date | None = None) -> str:
    """Contracts start on the first day of last month, with a month of work in it, so a
    billing run for last month can be tried at once."""
    if session.scalar(select(Plan.id).where(Plan.code == "agency-20").limit(1)) is not None:
        return "demo data already loaded"
    today = today or date.today()
    start = add_months(date(today.year, today.month, 1), -1)
    for plan in DEMO_PLANS:
        create_plan(session, PlanCreate.model_validate(plan))
    customers = [create_customer(session, CustomerCreate.model_validate(c)) for c in DEMO_CUSTOMERS]
    plan_codes = ["agency-20", "vtex-corporate", "premium-quarterly"]
    entries = 0
    for customer, code in zip(customers, plan_codes, strict=True):
        assert customer.id is not None
        contract = create_contract(
            session,
            ContractCreate(
                customer_id=customer.id,
                plan_code=code,
                start_date=start,
                committed_months=12,
                overage_cap_hours=Decimal("40"),
            ),
        )
        assert contract.id is not None
        for day, minutes, level, ticket, description in DEMO_WORK:
            post_work(
                session,
                contract.id,
                WorkEntryCreate(
                    worked_on=start.replace(day=day),
                    minutes=minutes,
                    level=level,
                    ticket_ref=ticket,
                    description=description,
                ),
            )
            entries += 1
    return (
        f"loaded {len(DEMO_PLANS)} plans, {len(customers)} customers, their contracts from "
        f"{start.isoformat()} and {entries} work entries; try: hourglass billing run "
        f"--period {month_label(start)}"
    )
