"""`/v1/plans`: the catalogue (finance only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from app.dependencies import Finance, SessionDep
from app.pagination import Page, PageParams, make_page
from ledger.catalog import service
from ledger.catalog.schemas import PlanCreate, PlanRead, PlanRevision

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.post("", status_code=201, response_model=PlanRead)
def create_plan(body: PlanCreate, session: SessionDep, _: Finance) -> PlanRead:
    return service.to_read(service.create_plan(session, body))


@router.get("", response_model=Page[PlanRead])
def list_plans(session: SessionDep, _: Finance, page: PageParams = Depends()) -> Page[PlanRead]:
    rows = service.list_latest_plans(session, after_id=page.after_id, limit=page.limit + 1)
    return make_page(rows, page, service.to_read, lambda plan: plan.id or 0)


@router.get("/{code}", response_model=PlanRead)
def get_plan(
    code: str,
    session: SessionDep,
    _: Finance,
    version: int | None = Query(None, ge=1, description="a past version; latest by default"),
) -> PlanRead:
    return service.to_read(service.get_plan(session, code, version=version))


@router.patch("/{code}", response_model=PlanRead)
def revise_plan(code: str, body: PlanRevision, session: SessionDep, _: Finance) -> PlanRead:
    """Creates a new version; contracts already signed keep the version they were signed on."""
    return service.to_read(service.revise_plan(session, code, body))
