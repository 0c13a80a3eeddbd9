"""Small factories with sensible defaults: `create_contract(session, **overrides)`.

They go through the services, so test data obeys the same rules as real data.
"""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token
from ledger.catalog.models import Plan
from ledger.catalog.schemas import PlanCreate
from ledger.catalog.service import create_plan as create_plan_service
from ledger.contracts.models import Contract
from ledger.contracts.schemas import ContractCreate
from ledger.contracts.service import create_contract as create_contract_service
from ledger.customers.models import Customer
from ledger.customers.schemas import CustomerCreate
from ledger.customers.service import create_customer as create_customer_service

_sequence = count(1)

# SPEC's worked-example plan `business`.
BUSINESS_PLAN: dict[str, Any] = {
    "name": "Business support",
    "currency": "EUR",
    "fee": "2000.00",
    "included_hours": "20",
    "overage_rate": "110.00",
    "billing_increment_minutes": 15,
    "pooling_allowed": True,
    "annual_discount_percent": "10",
    "components": [{"name": "platform", "share_percent": "100"}],
}


def plan_payload(**overrides: Any) -> dict[str, Any]:
    return {"code": f"plan-{next(_sequence)}", **BUSINESS_PLAN, **overrides}


def customer_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"Customer {next(_sequence)} GmbH",
        "email": "billing@customer.example",
        "country": "DE",
        "timezone": "Europe/Berlin",
        "holiday_region": "DE-BE",
        **overrides,
    }


def create_plan(session: Session, **overrides: Any) -> Plan:
    return create_plan_service(session, PlanCreate.model_validate(plan_payload(**overrides)))


def create_customer(session: Session, **overrides: Any) -> Customer:
    return create_customer_service(
        session, CustomerCreate.model_validate(customer_payload(**overrides))
    )


def create_contract(
    session: Session,
    *,
    customer: Customer | None = None,
    plan: Plan | None = None,
    **overrides: Any,
) -> Contract:
    customer = customer or create_customer(session)
    plan = plan or create_plan(session)
    data = {
        "customer_id": customer.id,
        "plan_code": plan.code,
        "start_date": date(2026, 1, 1),
        "committed_months": 12,
        **overrides,
    }
    return create_contract_service(session, ContractCreate.model_validate(data))


def bearer(session: Session, role: Role, customer_id: int | None = None) -> dict[str, str]:
    _, token = create_token(session, role=role, customer_id=customer_id, name="test")
    return {"Authorization": f"Bearer {token}"}


def billing_run(client: Any, headers: dict[str, str], period: str, **body: Any) -> dict[str, Any]:
    """`POST /v1/billing-runs` (202), the server's background worker drained in this thread
    (the tests' app runs no thread of its own), then the finished run as `GET` shows it."""
    response = client.post("/v1/billing-runs", json={"period": period, **body}, headers=headers)
    assert response.status_code == 202, response.text
    started: dict[str, Any] = response.json()
    assert started["status"] in ("running", "completed", "completed_with_failures"), started
    client.app.state.billing_worker.drain()
    shown = client.get(f"/v1/billing-runs/{started['id']}", headers=headers)
    assert shown.status_code == 200, shown.text
    run: dict[str, Any] = shown.json()
    return run
