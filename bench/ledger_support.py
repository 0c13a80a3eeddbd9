"""What the ledger benches share, and nothing from the tests: a throwaway PostgreSQL, a
database context, data made through the services, a finance token, percentiles.

(The throwaway PostgreSQL is `bench.support`'s, shared with the billing bench; benches and tests
import nothing from each other, so either can change freely.)
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from itertools import count
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token
from bench.support import throwaway_postgres
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


def create_plan(session: Session, **overrides: Any) -> Plan:
    body = {"code": f"bench-{next(_sequence)}-{uuid4().hex[:6]}", **BUSINESS_PLAN, **overrides}
    return create_plan_service(session, PlanCreate.model_validate(body))


def create_customer(session: Session, **overrides: Any) -> Customer:
    body = {
        "name": f"Bench customer {next(_sequence)}",
        "email": "billing@customer.example",
        "country": "DE",
        "timezone": "Europe/Berlin",
        "holiday_region": "DE-BE",
        **overrides,
    }
    return create_customer_service(session, CustomerCreate.model_validate(body))


def create_contract(
    session: Session, *, plan: Plan, customer: Customer, start_date: date, **overrides: Any
) -> Contract:
    body = {
        "customer_id": customer.id,
        "plan_code": plan.code,
        "start_date": start_date.isoformat(),
        **overrides,
    }
    return create_contract_service(session, ContractCreate.model_validate(body))


def finance_token(session: Session) -> str:
    _, token = create_token(session, role=Role.FINANCE, name="bench")
    return token


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    """A fresh database URL: a new database on a throwaway PostgreSQL, the given URL, or a
    temporary SQLite file."""
    if args.postgres:
        with throwaway_postgres() as admin_url:
            name = f"bench_{uuid4().hex[:8]}"
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return
    if args.database_url:
        yield args.database_url
        return
    with tempfile.TemporaryDirectory(prefix="hourglass-bench-") as scratch:
        yield f"sqlite:///{Path(scratch) / 'bench.db'}"
