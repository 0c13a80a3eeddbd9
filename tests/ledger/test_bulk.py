"""`ledger.bulk.insert_rows_ids` (issue #12): plain rows inserted in one executemany, their ids
handed back in the rows' order and ascending, as the ORM's unit of work assigns them; and the
chunk's plain invoice rows (`writing.InvoiceRow`) carry exactly `Invoice`'s columns and
defaults."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Invoice, InvoiceLine
from invoices.notifications.models import EmailOutbox, NotificationEvent
from invoices.writing import InvoiceRow
from ledger import bulk
from ledger.bulk import insert_rows, insert_rows_ids
from ledger.contracts.models import Contract
from ledger.hours.models import LedgerEntry, WorkEntry
from tests.factories import create_contract
from tests.support.twice import twice

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENTS = NotificationEvent.__table__  # type: ignore[attr-defined]
INVOICES = Invoice.__table__  # type: ignore[attr-defined]


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


# --- PostgreSQL: COPY and UPDATE … FROM unnest store what an executemany stores ---------------

BERLIN = timezone(timedelta(hours=1))
AWKWARD = "tab\there, new\nline, back\\slash, \\N, quote ' \" , Grüße 日本 \u00a0 end"


def _executemany(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ledger.bulk` as it was: executemany for every insert and update."""
    monkeypatch.setattr(bulk, "_copy", lambda *_args, **_kw: False)
    monkeypatch.setattr(bulk, "_update_from_arrays", lambda *_args, **_kw: False)


def _awkward_rows(session: Session, contract: Contract) -> None:
    """Rows of every column type the bulk writes carry: NULLs, text that COPY must escape,
    exact decimals, instants in another zone with microseconds, booleans, JSON objects and
    lists, model defaults left out of the rows; then updates of many rows by id."""
    assert contract.id is not None
    now = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=BERLIN)
    n = bulk.COPY_FROM_ROWS + 2
    invoice_ids = insert_rows_ids(
        session,
        INVOICES,
        [
            {
                "customer_id": contract.customer_id,
                "contract_id": contract.id,
                "period_start": date(2025, 1 + i, 1),
                "period_end": date(2025, 2 + i, 1),
                "period_label": f"2025-{1 + i:02d}",
                "currency": "EUR",
                "tax_rate_percent": Decimal("19.125") if i % 2 else Decimal("0"),
                "reverse_charge": i % 3 == 0,
                "note": AWKWARD if i % 2 else "",
                "billing_run_id": None,
                "created_at": now + timedelta(microseconds=i),
            }
            for i in range(n)
        ],
    )
    insert_rows(
        session,
        InvoiceLine.__table__,  # type: ignore[attr-defined]
        [
            {
                "invoice_id": invoice_ids[i % 2],
                "position": i,
                "kind": "fee",
                "description": AWKWARD[: 10 + i],
                "quantity": "1",
                "unit_price_minor": None if i % 2 else 9_007_199_254_740_993,
                "amount_minor": -i,
            }
            for i in range(n)
        ],
    )
    work_ids = insert_rows_ids(
        session,
        WorkEntry.__table__,  # type: ignore[attr-defined]
        [
            {
                "contract_id": contract.id,
                "kind": "work",
                "worked_on": date(2026, 1, 1 + i),
                "period_start": date(2026, 1, 1),
                "started_at": None if i % 2 else now,
                "minutes": 30 + i,
                "level": 1 + i % 4,
                "ticket_ref": f"T-{i}\t\\",
                "description": AWKWARD,
                "multiplier": Decimal("1.50") if i % 2 else Decimal("1E+1"),
                "billable_minutes": 30 + i,
                "late": bool(i % 2),
                "approved_overage": False,
                "reverses_id": None,
                "invoice_id": None,
                "created_at": now,
            }
            for i in range(n)
        ],
    )
    insert_rows_ids(
        session,
        LedgerEntry.__table__,  # type: ignore[attr-defined]
        [
            {
                "contract_id": contract.id,
                "kind": "overage",
                "minutes": -(i + 1),
                "period_start": date(2026, 1, 1),
                "allotment_id": None,
                "work_entry_id": work_ids[i],
                "rate": "late",
                "reason": "work",
                "created_at": now,
            }
            for i in range(n)
        ],
    )
    event_ids = insert_rows_ids(
        session,
        EVENTS,
        [
            {
                "public_id": f"evt_copy_{i}",
                "type": "invoice.issued",
                "data": {"n": i, "text": AWKWARD, "nested": [None, True, {"ü": "\\"}], "d": "1.10"},
                "created_at": now,
            }
            for i in range(n)
        ],
    )
    insert_rows(
        session,
        EmailOutbox.__table__,  # type: ignore[attr-defined]
        [
            {
                "kind": "invoice",
                "invoice_id": invoice_ids[i],
                "credit_note_id": None,
                "hours_alert_id": None,
                "message_id": f"<{i}@copy.invalid>",
                "recipients": [f"a{i}@example.com", AWKWARD] if i % 2 else [],
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ],
    )
    assert len(event_ids) == n
    bulk.update_by_id(
        session,
        INVOICES,
        {
            "number": {id_: f"2026-{i:06d}\t" for i, id_ in enumerate(invoice_ids)},
            "due_date": {
                id_: None if i % 2 else date(2026, 4, i + 1) for i, id_ in enumerate(invoice_ids)
            },
            "paid_at": {id_: None if i % 3 else now for i, id_ in enumerate(invoice_ids)},
            "tax_rate_percent": {id_: Decimal(f"7.{i}0") for i, id_ in enumerate(invoice_ids)},
            "reverse_charge": {id_: i % 2 == 1 for i, id_ in enumerate(invoice_ids)},
            "payment_failure_message": {id_: AWKWARD for id_ in invoice_ids},
            "parties": {
                id_: None
                if i % 3 == 0
                else {"customer": {"name": AWKWARD, "n": i, "vat": None}, "sample": i % 2 == 1}
                for i, id_ in enumerate(invoice_ids)
            },
        },
        same={"issue_date": date(2026, 3, 2), "status": "issued", "issued_at": now},
    )


@pytest.mark.postgres_only
def test_copied_rows_are_what_executemany_stores(
    connection: sa.Connection, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = create_contract(session)
    session.flush()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        copied = twice(connection, lambda s: _awkward_rows(s, contract))
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)
    assert sum(s.startswith("COPY ") for s in statements) == 6, statements
    assert sum(s.startswith("UPDATE invoices") and "unnest" in s for s in statements) == 1
    with monkeypatch.context() as m:
        _executemany(m)
        written = twice(connection, lambda s: _awkward_rows(s, contract))
    assert written["invoices"] and written["email_outbox"]
    assert copied == written


@pytest.mark.postgres_only
def test_a_failed_copy_is_sqlalchemys_integrity_error(session: Session) -> None:
    """A COPY that breaks a constraint raises what an executemany raises, so callers that
    catch `IntegrityError` keep working; the savepoint rolls it back."""
    rows = [_event(n) for n in range(bulk.COPY_FROM_ROWS)]
    rows[-1]["public_id"] = rows[0]["public_id"]
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.IntegrityError):
        insert_rows(session, EVENTS, rows)
    savepoint.rollback()
    assert session.scalar(select(sa.func.count()).select_from(NotificationEvent)) == 0


def test_one_of_is_in(session: Session) -> None:
    """`one_of` selects what `IN` selects, as one parameter on PostgreSQL (an `IN` list is
    new statement text for every length)."""
    ids = insert_rows_ids(session, EVENTS, [_event(n) for n in range(12)])
    wanted = ids[::3]
    query = select(col(NotificationEvent.id)).where(
        bulk.one_of(session, col(NotificationEvent.id), wanted)
    )
    assert sorted(session.scalars(query)) == wanted
    assert (
        list(session.scalars(query.where(bulk.one_of(session, col(NotificationEvent.id), []))))
        == []
    )
    compiled = str(query.compile(session.get_bind()))
    if session.get_bind().dialect.name == "postgresql":
        assert "ANY" in compiled and compiled.count("%(") == 1, compiled


def test_ids_for_several_tables_are_drawn_in_one_statement(session: Session) -> None:
    """`reserve_ids`: on PostgreSQL the ids `insert_rows_ids` would give, ascending per table,
    for several tables in one statement (none when nothing is wanted); None on SQLite."""
    ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    connection = session.connection()
    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        reserved = bulk.reserve_ids(session, [(EVENTS, 3), (ledger, 5)])
        empty = bulk.reserve_ids(session, [(EVENTS, 0), (ledger, 0)])
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)
    if session.get_bind().dialect.name != "postgresql":
        assert reserved is None and empty is None and not sent
        return
    assert reserved is not None and empty == [[], []]
    events, entries = reserved
    assert len(sent) == 1
    assert len(events) == 3 and events == sorted(events) and len(set(events)) == 3
    assert len(entries) == 5 and entries == sorted(entries) and len(set(entries)) == 5
    after = insert_rows_ids(session, EVENTS, [_event(900)])
    assert after[0] > max(events)
