"""Create, change and read customers."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.customers.einvoice_fields import check_vat_id
from ledger.customers.models import Customer
from ledger.customers.schemas import CustomerCreate, CustomerRead, CustomerUpdate
from ledger.errors import InvalidInput, NotFound


def _check_e_invoice_data(customer: Customer) -> None:
    """Rules across fields, on the customer as it would be after the change. The older
    free-text `tax_id` stands in for `vat_id` when only it is given and is a valid VAT id."""
    if customer.vat_id is None and customer.tax_id:
        with suppress(ValueError):
            customer.vat_id = check_vat_id(customer.tax_id, customer.country)
    if customer.vat_id is not None:
        try:
            customer.vat_id = check_vat_id(customer.vat_id, customer.country)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="vat_id") from exc
    if customer.reverse_charge and not customer.vat_id:
        raise InvalidInput(
            "a reverse-charge customer needs a vat_id (the buyer's VAT identifier, BT-48)",
            field="vat_id",
        )
    if customer.e_invoice_format == "xrechnung":
        missing = [f for f in ("city", "postal_code") if not getattr(customer, f)]
        if missing:
            raise InvalidInput(
                f"XRechnung needs the buyer's city and postal code: {', '.join(missing)} missing",
                field=missing[0],
            )


def create_customer(session: Session, data: CustomerCreate) -> Customer:
    customer = Customer(**data.model_dump())
    _check_e_invoice_data(customer)
    session.add(customer)
    session.flush()
    return customer


def update_customer(session: Session, customer: Customer, change: CustomerUpdate) -> Customer:
    values = change.model_dump(exclude_unset=True)
    for field in ("name", "email", "country", "timezone", "holiday_region", "e_invoice_format"):
        if field in values and values[field] is None:
            raise InvalidInput(f"{field} cannot be removed", field=field)
    for field, value in values.items():
        setattr(customer, field, value)
    _check_e_invoice_data(customer)
    customer.updated_at = utcnow()
    session.flush()
    return customer


def get_customer(session: Session, customer_id: int, *, visible_to: int | None = None) -> Customer:
    """`visible_to` is the customer a customer token is bound to: anything else is not found."""
    customer = session.get(Customer, customer_id)
    if customer is None or (visible_to is not None and customer.id != visible_to):
        raise NotFound(f"no customer {customer_id}")
    return customer


def list_customers(
    session: Session, *, after_id: int | None, limit: int, visible_to: int | None = None
) -> Sequence[Customer]:
    query = select(Customer).order_by(col(Customer.id))
    if after_id is not None:
        query = query.where(col(Customer.id) > after_id)
    if visible_to is not None:
        query = query.where(col(Customer.id) == visible_to)
    return session.scalars(query.limit(limit)).all()


def to_read(customer: Customer) -> CustomerRead:
    assert customer.id is not None
    return CustomerRead(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        country=customer.country,
        timezone=customer.timezone,
        holiday_region=customer.holiday_region,
        tax_rate_percent=str(customer.tax_rate_percent),
        reverse_charge=customer.reverse_charge,
        payment_terms_days=customer.payment_terms_days,
        address=customer.address,
        tax_id=customer.tax_id,
        vat_id=customer.vat_id,
        buyer_reference=customer.buyer_reference,
        street=customer.street,
        city=customer.city,
        postal_code=customer.postal_code,
        e_invoice_format=customer.e_invoice_format,
        stripe_customer_id=customer.stripe_customer_id,
        has_payment_method=customer.default_payment_method_id is not None,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )
