"""`ledger.bulk.insert_rows_ids` (issue #12): plain rows inserted in one executemany, their ids
handed back in the rows' order and ascending, as the ORM's unit of work assigns them; and the
chunk's plain invoice rows (`writing.InvoiceRow`) carry exactly `Invoice`'s columns and
defaults."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.notifications.models import NotificationEvent
from invoices.writing import InvoiceRow
from ledger.bulk import insert_rows_ids

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENTS = NotificationEvent.__table__  # type: ignore[attr-defined]


def _event(n: int) -> dict[str, object]:
    return {
        "public_id": f"evt_bulk_{n}",
        "type": "invoice.paid",
        "data": {"n": n},
        "created_at": NOW,
    }


def test_ids_come_back_in_the_rows_order_after_the_orms_own(session: Session) -> None:
    before = NotificationEvent(public_id="evt_before", type="invoice.paid", data={}, created_at=NOW)
    session.add(before)
    session.flush()
    assert before.id is not None
    ids = insert_rows_ids(session, EVENTS, [_event(n) for n in range(7)])
    assert len(ids) == 7 and ids == sorted(ids) and ids[0] > before.id
    stored = session.execute(
        select(col(NotificationEvent.id), col(NotificationEvent.data)).where(
            col(NotificationEvent.id).in_(ids)
        )
    ).all()
    assert {id_: data for id_, data in stored} == {id_: {"n": n} for n, id_ in enumerate(ids)}
    # The ORM goes on after them: the sequence moved past the ids drawn.
    after = NotificationEvent(public_id="evt_after", type="invoice.paid", data={}, created_at=NOW)
    session.add(after)
    session.flush()
    assert after.id is not None and after.id > ids[-1]
    assert insert_rows_ids(session, EVENTS, []) == []


def test_an_invoice_row_has_the_invoice_models_columns_and_defaults() -> None:
    columns = {c.name for c in Invoice.__table__.columns}  # type: ignore[attr-defined]
    assert {f.name for f in fields(InvoiceRow)} == columns
    given = {
        "customer_id": 1,
        "contract_id": 2,
        "period_start": NOW.date(),
        "period_end": NOW.date(),
        "period_label": "2026-03",
        "currency": "EUR",
        "created_at": NOW,
    }
    model = Invoice(**given)
    row = InvoiceRow(**given)  # type: ignore[arg-type]
    assert {name: getattr(row, name) for name in columns} == {
        name: getattr(model, name) for name in columns
    }
    assert "id" not in row.values() and len(row.values()) == len(columns) - 1
