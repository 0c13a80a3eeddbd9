"""Request and response shapes of `/v1/customers`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from ledger.validation import (
    Input,
    check_country,
    check_holiday_region,
    check_timezone,
    plain_decimal,
)

Percent = Annotated[
    Decimal, Field(ge=0, le=100, allow_inf_nan=False), AfterValidator(plain_decimal)
]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]
AddressLines = list[Annotated[str, Field(max_length=200)]]
EInvoiceFormat = Literal["cii", "xrechnung", "ubl"]
Line = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _address_lines(value: object) -> object:
    """An address may come as lines, as one multi-line string, or as an object of parts."""
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, dict):
        return [str(part).strip() for part in value.values() if part and str(part).strip()]
    return value


class CustomerFields(Input):
    @field_validator("address", mode="before", check_fields=False)
    @classmethod
    def _address(cls, value: object) -> object:
        return _address_lines(value)

    @field_validator("country", check_fields=False)
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else check_country(value)

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("vat_id", check_fields=False)
    @classmethod
    def _vat_id(cls, value: str | None) -> str | None:
        """Checked by pattern here; by country (stdnum) in the service, which knows it."""
        if value is not None and not value.strip():
            raise ValueError("vat_id cannot be blank (leave it out or send null)")
        return value

    @field_validator("holiday_region", check_fields=False)
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return None if value is None else check_holiday_region(value)


class CustomerCreate(CustomerFields):
    name: str = Field(min_length=1, max_length=200)
    email: Email
    country: str
    timezone: str
    holiday_region: str
    tax_rate_percent: Percent = Decimal(0)
    reverse_charge: bool = False
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    address: AddressLines = Field(default_factory=list, max_length=10)
    tax_id: str | None = Field(default=None, max_length=64)
    vat_id: str | None = Field(default=None, max_length=64, description="BT-48, e.g. DE136695976")
    buyer_reference: Line | None = Field(
        default=None, description="BT-10, e.g. a Leitweg-ID; defaults to the customer id"
    )
    street: Line | None = None
    city: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    postal_code: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    e_invoice_format: EInvoiceFormat = "cii"


class CustomerUpdate(CustomerFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: Email | None = None
    country: str | None = None
    timezone: str | None = None
    holiday_region: str | None = None
    tax_rate_percent: Percent | None = None
    reverse_charge: bool | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    address: AddressLines | None = Field(default=None, max_length=10)
    tax_id: str | None = Field(default=None, max_length=64)
    vat_id: str | None = Field(default=None, max_length=64)
    buyer_reference: Line | None = None
    street: Line | None = None
    city: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    postal_code: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    e_invoice_format: EInvoiceFormat | None = None


class CustomerRead(BaseModel):
    id: int
    name: str
    email: str
    country: str
    timezone: str
    holiday_region: str
    tax_rate_percent: str
    reverse_charge: bool
    payment_terms_days: int
    address: list[str]
    tax_id: str | None
    vat_id: str | None
    buyer_reference: str | None
    street: str | None
    city: str | None
    postal_code: str | None
    e_invoice_format: str
    stripe_customer_id: str | None
    has_payment_method: bool
    created_at: datetime
    updated_at: datetime
