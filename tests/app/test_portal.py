from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.settings import Issuer, Settings
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work
from tests.factories import create_contract, create_customer, create_plan


def test_portal_page_and_assets(client: TestClient) -> None:
    page = client.get("/portal")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/portal/portal.js">' in page.text
    script = client.get("/portal/portal.js")
    assert script.status_code == 200 and "Bearer" in script.text
    assert client.get("/portal/portal.css").status_code == 200
    assert client.get("/portal/secrets.txt").status_code == 404


def test_without_card_payments_the_page_loads_nothing_from_stripe(
    client: TestClient, app: Any
) -> None:
    app.state.settings = Settings(database_url="unused-in-tests", stripe_api_key="sk_test_x")

    page = client.get("/portal")

    assert "stripe" not in page.text.lower()
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert "frame-src 'none'" in policy


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="unused-in-tests",
        stripe_api_key="sk_test_portal",
        stripe_publishable_key="pk_test_portal",
        stripe_js_url="http://127.0.0.1:8420/js.stripe.com/v3/",
        issuer=Issuer(name="Acme <Support> & Co"),
    )


def test_the_page_carries_the_issuer_s_brand_and_stripe_js_and_allows_only_that_origin(
    client: TestClient,
) -> None:
    page = client.get("/portal")

    assert "<title>Acme &lt;Support&gt; &amp; Co — customer portal</title>" in page.text
    assert '<script src="http://127.0.0.1:8420/js.stripe.com/v3/"></script>' in page.text
    directives = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' http://127.0.0.1:8420"
    assert directives["connect-src"] == "'self' http://127.0.0.1:8420"
    assert directives["frame-src"] == "http://127.0.0.1:8420"
    assert directives["frame-ancestors"] == "'none'"
    assert (
        client.get("/portal/portal.js").headers["content-security-policy"]
        == (page.headers["content-security-policy"])
    )


def test_the_statement_csv_is_exact_minutes_per_entry_and_only_the_customer_s(
    client: TestClient,
    session: Session,
    finance: dict[str, str],
    customer_headers: Callable[[int], dict[str, str]],
) -> None:
    customer = create_customer(session)
    contract = create_contract(session, customer=customer, plan=create_plan(session))
    assert contract.id is not None and customer.id is not None
    for day, minutes, ticket, text in (
        (5, 480, "HD-1", "Upgrade, phase 1"),
        (12, 540, "HD-2", '"quoted" -1'),
        (20, 290, "HD-3", "=HYPERLINK(1)"),
    ):
        post_work(
            session,
            contract.id,
            WorkEntryCreate(
                worked_on=date(2026, 1, day),
                minutes=minutes,
                level=2,
                ticket_ref=ticket,
                description=text,
            ),
        )
    other = create_customer(session)
    assert other.id is not None

    response = client.get(
        f"/v1/contracts/{contract.id}/statement.csv?month=2026-01",
        headers=customer_headers(customer.id),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        f'filename="statement-{contract.id}-2026-01.csv"'
        in (response.headers["content-disposition"])
    )
    assert response.text == (
        "month,worked_on,ticket_ref,level,description,kind,minutes,multiplier,billable_minutes,"
        "allotment_minutes,overage_minutes,on_demand_minutes,late_minutes,allotment_months\r\n"
        '2026-01,2026-01-05,HD-1,2,"Upgrade, phase 1",work,480,1,480,480,0,0,0,2026-01\r\n'
        '2026-01,2026-01-12,HD-2,2,"""quoted"" -1",work,540,1,540,540,0,0,0,2026-01\r\n'
        "2026-01,2026-01-20,HD-3,2,'=HYPERLINK(1),work,290,1,300,180,120,0,0,2026-01\r\n"
    )
    assert (
        client.get(
            f"/v1/contracts/{contract.id}/statement.csv?month=2026-01",
            headers=customer_headers(other.id),
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/v1/contracts/{contract.id}/statement.csv?month=2026-13", headers=finance
        ).status_code
        == 422
    )


def test_a_contract_reads_its_plan_s_name(
    client: TestClient, session: Session, customer_headers: Callable[[int], dict[str, str]]
) -> None:
    customer = create_customer(session)
    contract = create_contract(
        session, customer=customer, plan=create_plan(session, name="Premium care")
    )
    assert customer.id is not None

    body = client.get(f"/v1/contracts/{contract.id}", headers=customer_headers(customer.id)).json()

    assert body["plan_name"] == "Premium care"
