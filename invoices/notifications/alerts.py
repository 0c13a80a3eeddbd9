"""Relaying the ledger's hours alerts: each becomes an e-mail and a webhook event, once.

The ledger (`ledger.hours.alerts`) records an alert with the work that reached the threshold;
it cannot reach the notifications. Here each unrelayed alert is taken with `FOR UPDATE SKIP
LOCKED` and, in one transaction, gets its event, its e-mail and its `relayed_at`: exactly once,
whatever number of deliverers run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.notifications import emails, events
from ledger.base import unit_of_work, utcnow
from ledger.hours.alerts import HoursAlert

BATCH = 100


def alert_data(alert: HoursAlert) -> dict[str, Any]:
    """`hours.threshold_reached`'s data (SPEC): what was reached, and the figures then."""
    return {
        "contract_id": alert.contract_id,
        "months": list(alert.months),
        "threshold_percent": str(alert.threshold_percent),
        "granted_minutes": alert.granted_minutes,
        "used_minutes": alert.used_minutes,
    }


def relay_alert(session: Session, alert: HoursAlert, *, now: datetime) -> None:
    events.record_event(session, events.HOURS_THRESHOLD_REACHED, alert_data(alert), now=now)
    emails.queue_alert_email(session, alert, now=now)
    alert.relayed_at = now
    session.flush()


def relay_pending(factory: sessionmaker[Session], *, now: datetime | None = None) -> int:
    """Relay every alert not relayed yet; returns how many."""
    relayed = 0
    while True:
        with unit_of_work(factory) as session:
            batch = session.scalars(
                select(HoursAlert)
                .where(col(HoursAlert.relayed_at).is_(None))
                .order_by(col(HoursAlert.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for alert in batch:
                relay_alert(session, alert, now=now or utcnow())
        relayed += len(batch)
        if len(batch) < BATCH:
            return relayed
