"""A contract's hours: balance, monthly statement, pooling."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import AwareDatetime

from app.dependencies import AnyRole, Finance, SessionDep
from ledger.base import utcnow
from ledger.contracts.service import get_contract
from ledger.errors import InvalidInput
from ledger.hours import pools, reports
from ledger.hours.schemas import BalanceRead, PoolCreate, PoolRead, StatementRead
from ledger.hours.statement_csv import statement_csv
from ledger.periods import check_instant, parse_month

router = APIRouter(prefix="/v1/contracts/{contract_id}", tags=["hours"])


def _month(value: str, field: str) -> date:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from exc


@router.get("/balance", response_model=BalanceRead)
def get_balance(
    contract_id: int,
    session: SessionDep,
    who: AnyRole,
    at: AwareDatetime | None = Query(None, description="an instant with offset; default now"),
) -> BalanceRead:
    if at is not None:
        try:
            check_instant(at)
        except ValueError as exc:
            # Another customer's contract, or none, is not found before `at` is judged.
            reports.contract_and_plan(session, contract_id, visible_to=who.visible_customer)
            raise InvalidInput(str(exc), field="at") from exc
    now = utcnow()
    return reports.balance(
        session, contract_id, at=at or now, now=now, visible_to=who.visible_customer
    )


@router.get("/statement", response_model=StatementRead)
def get_statement(
    contract_id: int,
    session: SessionDep,
    who: AnyRole,
    month: str = Query(..., description="YYYY-MM"),
) -> StatementRead:
    get_contract(session, contract_id, visible_to=who.visible_customer)
    return reports.statement(session, contract_id, month=_month(month, "month"), now=utcnow())


@router.get(
    "/statement.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per work entry"}},
)
def get_statement_csv(
    contract_id: int,
    session: SessionDep,
    who: AnyRole,
    month: str = Query(..., description="YYYY-MM"),
) -> Response:
    """The month's statement as CSV (minutes as integers), for the portal's download."""
    get_contract(session, contract_id, visible_to=who.visible_customer)
    statement = reports.statement(session, contract_id, month=_month(month, "month"), now=utcnow())
    return Response(
        statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="statement-{contract_id}-{statement.month}.csv"'
            )
        },
    )


@router.post("/pools", status_code=201, response_model=PoolRead)
def create_pool(contract_id: int, body: PoolCreate, _: Finance, session: SessionDep) -> object:
    first_month = _month(body.first_month, "first_month")
    pools.create_pool(session, contract_id, first_month)
    return pools.pool_summary(session, contract_id, first_month)


@router.delete("/pools/{first_month}", status_code=204)
def undo_pool(contract_id: int, first_month: str, session: SessionDep, _: Finance) -> None:
    pools.undo_pool(session, contract_id, _month(first_month, "first_month"))
