"""Closing many contracts' periods at once: what `closing.close_period` writes for each, in a
handful of statements for all of them.

A billing chunk closes the first due period of every contract it bills here, before drafting
them one by one (`close_period` then finds each period closed and returns). The rows are the
very rows `close_period` writes: an `expire` row for every allotment that ends with the period
(what remains of it), the allotment closed, the `closed_periods` row, then the grants of the
next allotments with `ensure_allotments`' rules (`prorated_minutes`, the same bound), each
allotment's running totals and `last_entry_id` moved with its rows. A contract this cannot close
exactly the same way (its period has not ended, is closed already, or still lacks an allotment
of its own) is left out: `close_period` handles it as before. The caller holds the contracts'
locks and owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.bulk import insert_rows, insert_rows_ids, one_of, reserve_ids, update_by_id
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.hours.allotments import contract_periods, last_grantable_day, prorated_minutes
from ledger.hours.book import allotment_ledger_row, ledger_row
from ledger.hours.closing import period_has_ended
from ledger.hours.models import Allotment, ClosedPeriod, LedgerEntry
from ledger.periods import Period, local_midnight, period_containing

MOVED = ("granted_minutes", "expired_minutes", "remaining_minutes", "last_entry_id", "closed")


@dataclass(frozen=True)
class ToClose:
    contract: Contract
    plan: Plan
    period: Period


def close_periods(session: Session, items: Sequence[ToClose], *, now: datetime) -> set[int]:
    """Close each item's period as `close_period` would; the ids of the contracts closed."""
    candidates = [i for i in items if period_has_ended(i.contract, i.period, now)]
    if not candidates:
        return set()
    ids = [i.contract.id for i in candidates]
    assert all(cid is not None for cid in ids)
    closed_already = {
        (cid, start)
        for cid, start in session.execute(
            select(col(ClosedPeriod.contract_id), col(ClosedPeriod.period_start)).where(
                one_of(session, col(ClosedPeriod.contract_id), ids)
            )
        )
    }
    latest: dict[int, date] = {
        cid: start
        for cid, start in session.execute(
            select(col(Allotment.contract_id), sa.func.max(Allotment.period_start))
            .where(one_of(session, col(Allotment.contract_id), ids))
            .group_by(col(Allotment.contract_id))
        )
    }
    bound = utcnow()
    todo: list[ToClose] = []
    for item in candidates:
        cid = item.contract.id
        assert cid is not None
        if (cid, item.period.start) in closed_already:
            continue
        # `close_period` first grants what is missing up to its period: leave those to it.
        through = min(
            item.period.end - timedelta(days=1),
            last_grantable_day(item.contract, item.plan, now=bound),
        )
        have = latest.get(cid)
        if have is None or have < period_containing(through, item.plan.period).start:
            continue
        todo.append(item)
    if not todo:
        return set()
    by_contract: dict[int, ToClose] = {}
    for item in todo:
        assert item.contract.id is not None
        by_contract[item.contract.id] = item
    open_allotments: dict[int, list[Allotment]] = defaultdict(list)
    for allotment in session.scalars(
        select(Allotment)
        .where(
            one_of(session, col(Allotment.contract_id), list(by_contract)),
            col(Allotment.closed).is_(False),
        )
        .order_by(col(Allotment.contract_id), col(Allotment.id))
    ):
        open_allotments[allotment.contract_id].append(allotment)

    # Expiry: what remains of every allotment that ends with the period. Rows are written as
    # plain rows (`ledger.bulk`), no ORM object built; the loaded allotments are told their new
    # totals at the end.
    expired: list[tuple[Allotment, dict[str, Any]]] = []
    closing: list[Allotment] = []
    for cid, item in by_contract.items():
        end_instant = local_midnight(item.period.end, item.contract.timezone)
        for allotment in open_allotments.get(cid, []):
            if allotment.expires_at > end_instant:
                continue
            closing.append(allotment)
            if allotment.remaining_minutes:
                expired.append(
                    (
                        allotment,
                        allotment_ledger_row(
                            allotment,
                            kind="expire",
                            minutes=allotment.remaining_minutes,
                            work_entry_id=None,
                            reason="period_end",
                        ),
                    )
                )
    # The next period's hours, as `ensure_allotments(through=period.end)` grants them.
    granted: list[tuple[dict[str, Any], int]] = []
    for cid, item in by_contract.items():
        contract, plan = item.contract, item.plan
        through = min(item.period.end, last_grantable_day(contract, plan, now=bound))
        have = latest[cid]
        if have >= period_containing(through, plan.period).start:
            continue
        for period in contract_periods(contract, plan, through=through):
            if period.start <= have:
                continue
            minutes = prorated_minutes(plan, contract, period)
            if minutes == 0:
                continue
            granted.append(
                (
                    {
                        "contract_id": cid,
                        "period_start": period.start,
                        "period_end": period.end,
                        "valid_from": period.start,
                        "valid_until": period.end,
                        "expires_at": local_midnight(period.end, contract.timezone),
                        "pool_first_month": None,
                        "granted_minutes": 0,
                        "used_minutes": 0,
                        "expired_minutes": 0,
                        "remaining_minutes": 0,
                        "closed": False,
                        "last_entry_id": None,
                        "created_at": utcnow(),
                    },
                    minutes,
                )
            )

    def grant_row(new: dict[str, Any], minutes: int, allotment_id: int) -> dict[str, Any]:
        return ledger_row(
            contract_id=new["contract_id"],
            kind="grant",
            minutes=minutes,
            period_start=new["period_start"],
            allotment_id=allotment_id,
            work_entry_id=None,
            reason="period_start",
        )

    # The allotments' new totals, written in one UPDATE at the end (not one per allotment).
    moved: dict[int, dict[str, Any]] = {}
    reserved = reserve_ids(
        session,
        [(Allotment.__table__, len(granted)), (_LEDGER, len(expired) + len(granted))],  # type: ignore[attr-defined]
    )
    if reserved is None:
        # SQLite: the ids come back from each insert; a new allotment gets its totals after
        # its grant is written.
        expire_ids = insert_rows_ids(session, _LEDGER, [entry for _, entry in expired])
        allotment_ids = insert_rows_ids(
            session,
            Allotment.__table__,  # type: ignore[attr-defined]
            [new for new, _ in granted],
        )
        grant_ids = insert_rows_ids(
            session,
            _LEDGER,
            [
                grant_row(new, minutes, allotment_id)
                for (new, minutes), allotment_id in zip(granted, allotment_ids, strict=True)
            ],
        )
        for (new, minutes), allotment_id, entry_id in zip(
            granted, allotment_ids, grant_ids, strict=True
        ):
            row = moved.setdefault(allotment_id, {name: new[name] for name in MOVED})
            row["granted_minutes"] += minutes
            row["remaining_minutes"] += minutes
            row["last_entry_id"] = entry_id
    else:
        # PostgreSQL: every id drawn at once, so a new allotment goes in with the totals its
        # grant gives it (the rows an insert then an UPDATE left), and the expiries and grants
        # in one COPY after the allotments they name.
        allotment_ids, entry_ids = reserved
        expire_ids, grant_ids = entry_ids[: len(expired)], entry_ids[len(expired) :]
        insert_rows(
            session,
            Allotment.__table__,  # type: ignore[attr-defined]
            [
                new
                | {
                    "id": allotment_id,
                    "granted_minutes": new["granted_minutes"] + minutes,
                    "remaining_minutes": new["remaining_minutes"] + minutes,
                    "last_entry_id": entry_id,
                }
                for (new, minutes), allotment_id, entry_id in zip(
                    granted, allotment_ids, grant_ids, strict=True
                )
            ],
        )
        insert_rows(
            session,
            _LEDGER,
            [entry | {"id": id_} for (_, entry), id_ in zip(expired, expire_ids, strict=True)]
            + [
                grant_row(new, minutes, allotment_id) | {"id": id_}
                for (new, minutes), allotment_id, id_ in zip(
                    granted, allotment_ids, grant_ids, strict=True
                )
            ],
        )
    insert_rows(
        session,
        ClosedPeriod.__table__,  # type: ignore[attr-defined]
        [
            {
                "contract_id": cid,
                "period_start": i.period.start,
                "period_end": i.period.end,
                "closed_at": utcnow(),
            }
            for cid, i in by_contract.items()
        ],
    )

    def totals(allotment: Allotment) -> dict[str, Any]:
        assert allotment.id is not None
        if allotment.id not in moved:
            moved[allotment.id] = {name: getattr(allotment, name) for name in MOVED}
            loaded[allotment.id] = allotment
        return moved[allotment.id]

    loaded: dict[int, Allotment] = {}
    for (allotment, entry), entry_id in zip(expired, expire_ids, strict=True):
        row = totals(allotment)
        row["expired_minutes"] += entry["minutes"]
        row["remaining_minutes"] -= entry["minutes"]
        row["last_entry_id"] = entry_id
    for allotment in closing:
        totals(allotment)["closed"] = True
    update_by_id(
        session,
        Allotment.__table__,  # type: ignore[attr-defined]
        {name: {aid: row[name] for aid, row in moved.items()} for name in MOVED},
    )
    for aid, allotment in loaded.items():
        for name, value in moved[aid].items():
            set_committed_value(allotment, name, value)
    return set(by_contract)


_LEDGER: sa.Table = LedgerEntry.__table__  # type: ignore[attr-defined]
