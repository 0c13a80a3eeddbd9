"""The portal in a real browser: headless Chromium from the distribution (`apt-get install
chromium`, done by scripts/test), driven by Playwright — never `playwright install`.

One live server (uvicorn on loopback, a migrated SQLite database of its own) and one private
localstripe serve the whole module; localstripe's Stripe.js mock is the page's Stripe.js and
its signed webhooks come back to the server. Every request the browser makes is recorded, so
the module can check nothing left for another host.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from app.auth.tokens import Role, create_token
from app.db import make_engine
from app.main import create_app
from app.migrations import upgrade
from app.settings import Issuer, Settings
from invoices.issuing import IssuerDetails, bill_period, void_invoice
from invoices.models import Invoice
from invoices.payments.stripe_events import StripeEvent
from ledger.base import unit_of_work
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from ledger.periods import month_period
from tests.factories import create_contract, create_customer, create_plan
from tests.invoices.billing.helpers import render_pending_documents
from tests.support.localstripe_server import LocalStripe, free_loopback_port, start_localstripe

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (scripts/test installs the Debian package)"
)

API_KEY = "sk_test_hourglass_portal_browser"
PUBLISHABLE_KEY = "pk_test_hourglass_portal_browser"
WEBHOOK_SECRET = "whsec_test_hourglass_portal_browser"
ISSUER_NAME = "Acme Support Services GmbH"
VISA = "4242424242424242"
NEEDS_AUTHENTICATION = "4000002500003155"
DECLINED_ON_CHARGE = "4000000000000341"
PHONE = {"width": 390, "height": 844}
WAIT_MS = 20_000


@dataclass(frozen=True)
class Portal:
    url: str
    stripe_url: str
    token: str
    factory: sessionmaker[Session]
    invoices: dict[str, int]  # "january", "february", "april" (open), "march" (void)
    contract_id: int
    requests: list[str]  # every URL the browser asked for, in this module
    console_errors: list[str]


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe()  # its own: no other test's webhook events reach this server
    yield server
    server.stop()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, localstripe: LocalStripe) -> Iterator[Portal]:
    database = tmp_path_factory.mktemp("portal-browser") / "portal.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    token, invoices, contract_id = _seed(factory)
    settings = Settings(
        database_url=str(engine.url),
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe.url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_js_url=f"{localstripe.url}/js.stripe.com/v3/",
        issuer=Issuer(name=ISSUER_NAME),
    )
    port = free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the portal's server did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    _post_json(
        f"{localstripe.url}/_config/webhooks/hourglass",
        {"url": f"{url}/v1/stripe/webhook", "secret": WEBHOOK_SECRET},
    )
    yield Portal(url, localstripe.url, token, factory, invoices, contract_id, [], [])
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def _post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _seed(factory: sessionmaker[Session]) -> tuple[str, dict[str, int], int]:
    """A Berlin customer on "Business support": January, February and April open (and
    overdue), March voided by a credit note; a month of work in January."""
    issuer = IssuerDetails(name=ISSUER_NAME)
    with unit_of_work(factory) as session:
        customer = create_customer(session, name="Nordlicht Logistik GmbH")
        plan = create_plan(session, name="Business support")
        contract = create_contract(session, customer=customer, plan=plan)
        assert contract.id is not None and customer.id is not None
        for day, minutes, ticket in ((5, 480, "HD-101"), (12, 540, "HD-102"), (20, 290, "HD-103")):
            post_work(
                session,
                contract.id,
                WorkEntryCreate(
                    worked_on=date(2026, 1, day),
                    minutes=minutes,
                    level=2,
                    ticket_ref=ticket,
                    description="=SUM(A1) database failover",
                ),
            )
        invoices: dict[str, int] = {}
        for name, month in (("january", 1), ("february", 2), ("march", 3), ("april", 4)):
            invoice = bill_period(
                session,
                contract=contract,
                plan=plan,
                customer=customer,
                period=month_period(date(2026, month, 1)),
                issuer=issuer,
                now=datetime(2026, month + 1, 1, 9, 0, tzinfo=UTC),
            )
            assert invoice.id is not None
            invoices[name] = invoice.id
        void_invoice(session, invoices["march"], issuer=issuer, reason="Wrong period")
        _, token = create_token(session, role=Role.CUSTOMER, customer_id=customer.id, name="portal")
    render_pending_documents(factory, issuer=issuer)  # what a billing worker does after issuing
    return token, invoices, contract.id


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, portal: Portal) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", accept_downloads=True)
    page = context.new_page()
    watch(page, portal)
    yield page
    context.close()


def watch(page: Any, portal: Portal) -> None:
    page.set_default_timeout(WAIT_MS)
    page.on("request", lambda request: portal.requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            portal.console_errors.append(message.text) if message.type == "error" else None
        ),
    )


def sign_in(page: Any, portal: Portal, token: str | None = None) -> None:
    page.goto(f"{portal.url}/portal")
    page.get_by_label("Access token").fill(token or portal.token)
    page.get_by_role("button", name="Sign in").click()


def invoice_item(page: Any, invoice_id: int) -> Any:
    return page.locator(f"#invoice-{invoice_id}")


def fill_card(page: Any, number: str) -> None:
    form = page.get_by_role("form", name="Pay invoice", exact=False)
    form.get_by_label("Card number").fill(number)
    form.get_by_label("Expiry month").fill("12")
    form.get_by_label("Expiry year (two digits)").fill("34")
    form.get_by_label("Security code (CVC)").fill("123")
    form.get_by_label("Postal code").fill("10117")


def stored_invoice(portal: Portal, invoice_id: int) -> Invoice:
    with unit_of_work(portal.factory) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice


def test_sign_in_shows_the_brand_balance_statement_and_invoices_in_english(
    page: Any, portal: Portal
) -> None:
    sign_in(page, portal)

    sync_api.expect(page.get_by_text("Nordlicht Logistik GmbH")).to_be_visible()
    assert page.locator("#brand").inner_text() == ISSUER_NAME
    assert ISSUER_NAME in page.title()
    balance = page.locator("#contracts")
    sync_api.expect(balance).to_contain_text(f"Business support (contract {portal.contract_id})")
    assert "plan-" not in balance.inner_text()  # the plan's name, never its code
    january = invoice_item(page, portal.invoices["january"])
    sync_api.expect(january).to_contain_text("January 2026")
    sync_api.expect(january).to_contain_text("Overdue")
    sync_api.expect(january).to_contain_text("Feb 1, 2026")  # issued, en-US, contract's zone
    sync_api.expect(january).to_contain_text("€2,020.00")  # 2,000 − 200 + 2 h overage
    march = invoice_item(page, portal.invoices["march"])
    sync_api.expect(march).to_contain_text("Void")
    sync_api.expect(march).to_contain_text("Credit note")
    sync_api.expect(march.get_by_role("button", name="Pay", exact=True)).to_have_count(0)
    text = page.locator("main").inner_text()
    for raw in ("issued", "requires_payment_method", "payment_status", "none"):
        assert raw not in text.split()


def test_the_controls_carry_their_accessible_names(page: Any, portal: Portal) -> None:
    page.goto(f"{portal.url}/portal")
    sync_api.expect(page.get_by_label("Access token")).to_be_visible()
    sign_in(page, portal)
    sync_api.expect(invoice_item(page, portal.invoices["january"])).to_be_visible()

    for invoice_id in portal.invoices.values():
        item = invoice_item(page, invoice_id)
        assert item.get_by_role("button", name="Download PDF", exact=True).count() == 1
        assert item.get_by_role("button", name="Download e-invoice", exact=True).count() == 1
    open_ones = [portal.invoices[name] for name in ("january", "february", "april")]
    pay_buttons = page.get_by_role("button", name="Pay", exact=True)
    assert pay_buttons.count() == len(open_ones)


def test_downloads_a_pdf_and_the_statement_as_exact_csv(page: Any, portal: Portal) -> None:
    sign_in(page, portal)
    january = invoice_item(page, portal.invoices["january"])
    with page.expect_download() as pdf:
        january.get_by_role("button", name="Download PDF", exact=True).click()
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")

    page.get_by_label("Month").fill("2026-01")
    page.get_by_role("button", name="Show statement").click()
    sync_api.expect(page.locator("#statement")).to_contain_text("HD-103")
    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Download CSV").click()
    lines = Path(csv_download.value.path()).read_text().splitlines()

    assert lines[0].startswith("month,worked_on,ticket_ref,level,description,kind,minutes,")
    rows = [line.split(",") for line in lines[1:]]
    assert [row[2] for row in rows] == ["HD-101", "HD-102", "HD-103"]
    assert [row[4] for row in rows] == ["'=SUM(A1) database failover"] * 3  # no formula
    assert [int(row[8]) for row in rows] == [480, 540, 300]  # billable, rounded up to 15 min
    assert sum(int(row[9]) for row in rows) == 20 * 60 and sum(int(row[10]) for row in rows) == 120


def test_a_wrong_token_is_refused_and_nothing_is_shown(
    page: Any, portal: Portal, tmp_path: Path
) -> None:
    sign_in(page, portal, token="hg_this_is_not_a_token")

    sync_api.expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.screenshot(path=str(tmp_path / "wrong-token.png"))
    sync_api.expect(page.locator("#account")).to_be_hidden()
    sync_api.expect(page.get_by_label("Access token")).to_be_visible()


def german_phone(browser: Any, portal: Portal) -> Any:
    context = browser.new_context(viewport=PHONE, locale="de-DE", device_scale_factor=1)
    watch(context.new_page(), portal)
    return context


def test_usable_on_a_390_pixel_wide_phone(browser: Any, portal: Portal, tmp_path: Path) -> None:
    """Runs before the payments, so the card form can be opened on an open invoice."""
    context = german_phone(browser, portal)
    page = context.pages[0]
    try:
        page.goto(f"{portal.url}/portal")
        assert _scroll_width(page) <= PHONE["width"]
        sign_in(page, portal)
        sync_api.expect(invoice_item(page, portal.invoices["march"])).to_be_visible()
        page.get_by_label("Month").fill("2026-01")
        page.get_by_role("button", name="Show statement").click()
        sync_api.expect(page.locator("#statement")).to_contain_text("HD-101")
        # German: amounts with the symbol after, a comma for decimals.
        january = invoice_item(page, portal.invoices["january"])
        sync_api.expect(january).to_contain_text("2.020,00 €")
        assert _scroll_width(page) <= PHONE["width"]

        january.get_by_role("button", name="Pay", exact=True).click()
        sync_api.expect(page.get_by_role("button", name="Pay now")).to_be_visible()
        page.screenshot(path=str(tmp_path / "portal-phone.png"), full_page=True)
        assert _scroll_width(page) <= PHONE["width"]
    finally:
        context.close()


def test_pay_by_card_and_see_it_paid_without_reloading(
    page: Any, portal: Portal, tmp_path: Path
) -> None:
    invoice_id = portal.invoices["january"]
    sign_in(page, portal)
    item = invoice_item(page, invoice_id)
    item.get_by_role("button", name="Pay", exact=True).click()
    fill_card(page, VISA)
    item.screenshot(path=str(tmp_path / "pay-form.png"))
    page.get_by_role("button", name="Pay now").click()

    sync_api.expect(invoice_item(page, invoice_id).locator(".badge")).to_have_text("Paid")
    page.screenshot(path=str(tmp_path / "paid.png"), full_page=True)
    sync_api.expect(invoice_item(page, invoice_id)).to_contain_text("Paid on")
    sync_api.expect(
        invoice_item(page, invoice_id).get_by_role("button", name="Pay", exact=True)
    ).to_have_count(0)
    assert stored_invoice(portal, invoice_id).status == "paid"
    # localstripe's signed webhook arrives too and is applied (a second word, changing nothing).
    deadline = time.monotonic() + 10
    while not _succeeded_events(portal, invoice_id):
        assert time.monotonic() < deadline, "no payment_intent.succeeded webhook arrived"
        time.sleep(0.2)


def test_a_card_needing_authentication_is_shown_paid_once_the_webhook_says_so(
    page: Any, portal: Portal
) -> None:
    invoice_id = portal.invoices["february"]
    sign_in(page, portal)
    invoice_item(page, invoice_id).get_by_role("button", name="Pay", exact=True).click()
    fill_card(page, NEEDS_AUTHENTICATION)
    page.get_by_role("button", name="Pay now").click()
    # localstripe's Stripe.js asks twice: when setting the card up, and for the payment.
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_role("button", name="Complete authentication").click()

    sync_api.expect(invoice_item(page, invoice_id).locator(".badge")).to_have_text("Paid")
    assert stored_invoice(portal, invoice_id).status == "paid"
    [outcome] = _succeeded_events(portal, invoice_id)
    assert outcome == "invoice paid"  # here the webhook, not the confirm call, paid it


def test_a_declined_card_shows_why_and_another_card_pays(page: Any, portal: Portal) -> None:
    invoice_id = portal.invoices["april"]
    sign_in(page, portal)
    invoice_item(page, invoice_id).get_by_role("button", name="Pay", exact=True).click()
    fill_card(page, DECLINED_ON_CHARGE)
    page.get_by_role("button", name="Pay now").click()

    item = invoice_item(page, invoice_id)
    sync_api.expect(item).to_contain_text("The last payment failed")
    sync_api.expect(item.locator(".badge")).to_have_text("Overdue")
    assert stored_invoice(portal, invoice_id).payment_status == "failed"

    item.get_by_role("button", name="Pay", exact=True).click()
    fill_card(page, VISA)
    page.get_by_role("button", name="Pay now").click()
    sync_api.expect(invoice_item(page, invoice_id).locator(".badge")).to_have_text("Paid")


def test_paid_times_are_shown_in_the_contract_s_timezone(browser: Any, portal: Portal) -> None:
    """After the payments above: each paid invoice says when, in Berlin time."""
    context = german_phone(browser, portal)
    page = context.pages[0]
    try:
        sign_in(page, portal)
        sync_api.expect(invoice_item(page, portal.invoices["march"])).to_be_visible()
        paid = 0
        for invoice_id in portal.invoices.values():
            paid_at = stored_invoice(portal, invoice_id).paid_at
            if paid_at is not None:
                berlin = paid_at.astimezone(ZoneInfo("Europe/Berlin"))
                expected = f"Paid on {berlin:%d.%m.%Y, %H:%M}"
                sync_api.expect(invoice_item(page, invoice_id)).to_contain_text(expected)
                paid += 1
        assert paid == 3
        assert _scroll_width(page) <= PHONE["width"]
    finally:
        context.close()


def test_no_request_leaves_for_another_host_and_the_policy_blocked_nothing(
    portal: Portal,
) -> None:
    """Runs last in the module: every page above recorded its requests and console errors."""
    blocked = [text for text in portal.console_errors if "Content Security Policy" in text]
    assert not blocked, blocked
    assert portal.requests, "the browser tests above recorded no request"
    hosts = {
        urlsplit(url).netloc for url in portal.requests if not url.startswith(("blob:", "data:"))
    }
    assert hosts <= {urlsplit(portal.url).netloc, urlsplit(portal.stripe_url).netloc}, hosts


def _scroll_width(page: Any) -> int:
    width: int = page.evaluate("document.scrollingElement.scrollWidth")
    return width


def _succeeded_events(portal: Portal, invoice_id: int) -> list[str]:
    with unit_of_work(portal.factory) as session:
        return list(
            session.scalars(
                sa.select(StripeEvent.outcome).where(
                    StripeEvent.invoice_id == invoice_id,
                    StripeEvent.event_type == "payment_intent.succeeded",
                )
            )
        )
