"""Migration 0011 with data in place: down and up again keeps plans and contracts, and plans that
existed before it get the default alert thresholds."""

from __future__ import annotations

import sqlalchemy as sa

from app.db import make_engine, session_factory, unit_of_work
from app.migrations import downgrade, upgrade
from ledger.catalog.models import Plan
from tests.factories import create_contract, create_plan


def test_down_and_up_with_contracts_in_place(fresh_database: str) -> None:
    engine = make_engine(fresh_database, poolclass=sa.NullPool)
    try:
        with unit_of_work(session_factory(engine)) as session:
            plan = create_plan(session, alert_thresholds_percent=[50])
            create_contract(session, plan=plan)
            plan_id = plan.id
        downgrade(engine, "0007")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("plans")}
            assert "alert_thresholds_percent" not in columns
            assert conn.exec_driver_sql("SELECT count(*) FROM contracts").scalar() == 1
        upgrade(engine)
        with unit_of_work(session_factory(engine)) as session:
            restored = session.get(Plan, plan_id)
            assert restored is not None
            assert restored.alert_thresholds_percent == ["80", "100"]
    finally:
        engine.dispose()
