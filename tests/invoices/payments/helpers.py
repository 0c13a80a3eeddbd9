"""Shared pieces of the payments tests: a billed invoice, cards, and what localstripe holds.

Everything runs against the session's real localstripe; each test makes its own customers
(unique e-mail addresses), so the Stripe objects a test looks at are its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import stripe
from sqlalchemy.orm import Session, sessionmaker

from invoices.issuing import IssuerDetails, bill_period
from invoices.models import Invoice
from invoices.payments import StripeConfig, StripeGateway
from invoices.payments.customers import save_default_payment_method
from invoices.payments.models import PaymentOutbox
from ledger.base import unit_of_work, utcnow
from ledger.customers.models import Customer
from ledger.periods import month_period
from tests.factories import create_contract, create_customer, create_plan

API_KEY = "sk_test_hourglass_payments"
WEBHOOK_SECRET = "whsec_test_hourglass_payments"
VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches fine, every charge is declined
DECLINED_ON_ATTACH = "4000000000000002"
ISSUER = IssuerDetails(name="Hourglass Test Issuer")
JANUARY_TOTAL_MINOR = 180_000  # fee 2,000.00 less the 10 % annual discount


def make_config(api_base: str) -> StripeConfig:
    return StripeConfig(api_key=API_KEY, api_base=api_base, webhook_secret=WEBHOOK_SECRET)


def make_gateway(api_base: str) -> StripeGateway:
    return StripeGateway(make_config(api_base))


def make_stripe_client(api_base: str) -> stripe.StripeClient:
    """Plays the browser (making PaymentMethods) and the auditor (reading what Stripe holds)."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": api_base}, max_network_retries=0)


def create_card(client: stripe.StripeClient, number: str = VISA) -> str:
    """A card PaymentMethod, as Stripe.js would make it in the customer's browser."""
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return method.id


def unique_email() -> str:
    return f"billing+{uuid.uuid4().hex}@customer.test"


def bill_january(session: Session, *, customer_id: int | None = None) -> Invoice:
    """A contract's January 2026 invoice, issued (and queued for collection) in `session`."""
    if customer_id is None:
        customer = create_customer(session, email=unique_email())
    else:
        found = session.get(Customer, customer_id)
        assert found is not None
        customer = found
    plan = create_plan(session)
    contract = create_contract(session, customer=customer, plan=plan)
    invoice = bill_period(
        session,
        contract=contract,
        plan=plan,
        customer=customer,
        period=month_period(date(2026, 1, 1)),
        issuer=ISSUER,
        now=utcnow(),
    )
    assert invoice.total_minor == JANUARY_TOTAL_MINOR
    return invoice


@dataclass(frozen=True)
class Billed:
    customer_id: int
    invoice_id: int
    invoice_number: str


def issue_invoice(factory: sessionmaker[Session], *, customer_id: int | None = None) -> Billed:
    with unit_of_work(factory) as session:
        invoice = bill_january(session, customer_id=customer_id)
        assert invoice.id is not None and invoice.number is not None
        return Billed(invoice.customer_id, invoice.id, invoice.number)


def attach_card(
    factory: sessionmaker[Session],
    gateway: StripeGateway,
    client: stripe.StripeClient,
    customer_id: int,
    number: str = VISA,
) -> str:
    """Saves a new card as the customer's default; returns the Stripe customer id."""
    customer = save_default_payment_method(
        factory,
        gateway,
        customer_id=customer_id,
        payment_method_id=create_card(client, number),
        visible_to=None,
        now=utcnow(),
    )
    assert customer.stripe_customer_id is not None
    return customer.stripe_customer_id


@dataclass(frozen=True)
class PaymentState:
    status: str
    payment_status: str
    message: str | None
    paid: bool
    outbox_state: str | None
    attempts: int | None
    payment_intent_id: str | None


def payment_state(factory: sessionmaker[Session], invoice_id: int) -> PaymentState:
    with unit_of_work(factory) as session:
        return read_payment_state(session, invoice_id)


def read_payment_state(session: Session, invoice_id: int) -> PaymentState:
    invoice = session.get(Invoice, invoice_id, populate_existing=True)
    assert invoice is not None
    row = session.query(PaymentOutbox).filter_by(invoice_id=invoice_id).populate_existing().first()
    return PaymentState(
        status=invoice.status,
        payment_status=invoice.payment_status,
        message=invoice.payment_failure_message,
        paid=invoice.paid_at is not None,
        outbox_state=row.state if row else None,
        attempts=row.attempts if row else None,
        payment_intent_id=row.payment_intent_id if row else None,
    )


def intents_for_invoice(
    client: stripe.StripeClient, stripe_customer_id: str, invoice_id: int
) -> list[stripe.PaymentIntent]:
    """localstripe cannot filter PaymentIntents by customer, so list all and filter here."""
    listed = client.v1.payment_intents.list(params={"limit": 100})
    return [
        intent
        for intent in listed.auto_paging_iter()
        if intent.customer == stripe_customer_id
        and intent.metadata is not None
        and intent.metadata.to_dict().get("invoice_id") == str(invoice_id)
    ]


def succeeded_charges(client: stripe.StripeClient, stripe_customer_id: str) -> list[stripe.Charge]:
    listed = client.v1.charges.list(params={"customer": stripe_customer_id, "limit": 100})
    return [charge for charge in listed.auto_paging_iter() if charge.status == "succeeded"]


def signed(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A `Stripe-Signature` header, made the way Stripe makes it."""
    timestamp = int(time.time()) if at is None else at
    signature = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={signature}"


def event_payload(event_type: str, intent: dict[str, Any], *, event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": intent},
    }
    return json.dumps(event).encode()


PUBLISHABLE_KEY = "pk_test_hourglass_portal"


def browser_sets_up_card(api_base: str, client_secret: str, number: str = VISA) -> str:
    """What localstripe's Stripe.js does in `confirmCardSetup`: the publishable key in a
    text/plain JSON body, no secret key. Returns the SetupIntent id."""
    setup_id = client_secret.split("_secret_")[0]
    body = {
        "key": PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            "billing_details": {"address": {"postal_code": "10117"}},
        },
    }
    url = f"{api_base}/v1/setup_intents/{setup_id}/confirm"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        status = json.loads(response.read())["status"]
    if status == "requires_action":  # 3D Secure, completed in Stripe.js's dialog
        again = {"key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret}
        request = urllib.request.Request(url, data=json.dumps(again).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            status = json.loads(response.read())["status"]
    assert status == "succeeded"
    return setup_id
