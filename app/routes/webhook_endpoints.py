"""`/v1/webhook-endpoints`: where events are POSTed (finance only), and the deliveries log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from app.dependencies import Finance, SessionDep
from app.pagination import Page, PageParams, make_page
from invoices.notifications import endpoints
from invoices.notifications.endpoints import (
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointRead,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookEndpointRead)
def create_webhook_endpoint(
    body: WebhookEndpointCreate, session: SessionDep, _: Finance
) -> WebhookEndpointRead:
    """Registers an endpoint; the answer carries its signing `secret`, shown this once."""
    endpoint, secret = endpoints.create_endpoint(session, body)
    return endpoints.to_read(endpoint, secret=secret)


@router.get("", response_model=Page[WebhookEndpointRead])
def list_webhook_endpoints(
    session: SessionDep, _: Finance, page: PageParams = Depends()
) -> Page[WebhookEndpointRead]:
    rows = endpoints.list_endpoints(session, after_id=page.after_id, limit=page.limit + 1)
    return make_page(rows, page, endpoints.to_read, lambda row: row.id or 0)


@router.get("/{endpoint_id}", response_model=WebhookEndpointRead)
def get_webhook_endpoint(endpoint_id: int, session: SessionDep, _: Finance) -> WebhookEndpointRead:
    return endpoints.to_read(endpoints.get_endpoint(session, endpoint_id))


@router.delete("/{endpoint_id}", status_code=204, response_class=Response)
def delete_webhook_endpoint(endpoint_id: int, session: SessionDep, _: Finance) -> None:
    """Stops the endpoint's deliveries, including those still being retried."""
    endpoints.delete_endpoint(session, endpoint_id)


@router.get("/{endpoint_id}/deliveries", response_model=Page[WebhookDeliveryRead])
def list_webhook_deliveries(
    endpoint_id: int, session: SessionDep, _: Finance, page: PageParams = Depends()
) -> Page[WebhookDeliveryRead]:
    """Every event sent to the endpoint: state, attempts with status codes, next retry."""
    rows = endpoints.list_deliveries(
        session, endpoint_id, after_id=page.after_id, limit=page.limit + 1
    )
    return make_page(rows, page, lambda row: row, lambda row: row.id)
