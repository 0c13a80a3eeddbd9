"""`/v1/customers`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.dependencies import Finance, FinanceOrCustomer, SessionDep
from app.pagination import Page, PageParams, make_page
from ledger.customers import service
from ledger.customers.schemas import CustomerCreate, CustomerRead, CustomerUpdate

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("", status_code=201, response_model=CustomerRead)
def create_customer(body: CustomerCreate, session: SessionDep, _: Finance) -> CustomerRead:
    return service.to_read(service.create_customer(session, body))


@router.get("", response_model=Page[CustomerRead])
def list_customers(
    session: SessionDep, who: FinanceOrCustomer, page: PageParams = Depends()
) -> Page[CustomerRead]:
    rows = service.list_customers(
        session, after_id=page.after_id, limit=page.limit + 1, visible_to=who.visible_customer
    )
    return make_page(rows, page, service.to_read, lambda customer: customer.id or 0)


@router.get("/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: int, session: SessionDep, who: FinanceOrCustomer) -> CustomerRead:
    return service.to_read(
        service.get_customer(session, customer_id, visible_to=who.visible_customer)
    )


@router.patch("/{customer_id}", response_model=CustomerRead)
def update_customer(
    customer_id: int, body: CustomerUpdate, session: SessionDep, _: Finance
) -> CustomerRead:
    customer = service.get_customer(session, customer_id)
    return service.to_read(service.update_customer(session, customer, body))
