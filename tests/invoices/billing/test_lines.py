"""Every kind of invoice line, through the HTTP API and a real billing run.

Plan `business` unless told otherwise: fee 2,000.00 EUR/month, 20 h, overage 110.00 EUR/h,
15-minute increment, annual discount 10 %. Contracts have no committed term (no discount)
unless a test gives them one.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.invoices.billing.helpers import (
    Headers,
    add_adjustment,
    amounts,
    create_contract,
    create_customer,
    create_plan,
    invoices_by_period,
    lines_of_kind,
    minor,
    only_invoice,
    post_work,
    run_billing,
)


def test_fee_in_arrears_is_the_closing_months_fee(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [("fee", "2000.00")]
    (fee,) = invoice["lines"]
    assert fee["quantity"] == "1" and fee["unit_price"] == "2000.00"
    assert "2026-01" in fee["description"] and "advance" not in fee["description"]
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("2000.00", "0.00", "2000.00")
    assert invoice["status"] == "issued" and invoice["currency"] == "EUR"


def test_fee_in_advance_first_invoice_carries_the_first_and_the_coming_month(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(client, finance, billing_timing="advance")
    contract = create_contract(client, finance, plan=plan)
    post_work(client, finance, contract, "2026-01-10", 21 * 60)  # 1 h overage, billed in arrears

    run_billing(client, finance, "2026-01")
    january = only_invoice(client, finance, contract, "2026-01")
    assert amounts(january) == [("fee", "2000.00"), ("fee", "2000.00"), ("overage", "110.00")]
    first, coming = january["lines"][:2]
    assert "2026-01" in first["description"] and "advance" not in first["description"]
    assert "2026-02" in coming["description"] and "in advance" in coming["description"]
    assert january["total"] == "4110.00"

    run_billing(client, finance, "2026-02")
    february = only_invoice(client, finance, contract, "2026-02")
    assert amounts(february) == [("fee", "2000.00")]
    assert "2026-03" in february["lines"][0]["description"]
    assert "in advance" in february["lines"][0]["description"]


def test_fee_in_advance_with_annual_discount_and_proration(
    client: TestClient, finance: Headers
) -> None:
    """Started 2026-01-20: January pro-rated 12/31, February in advance in full, each with its
    own 10 % discount."""
    plan = create_plan(client, finance, billing_timing="advance")
    contract = create_contract(
        client, finance, plan=plan, start_date="2026-01-20", committed_months=12
    )
    run_billing(client, finance, "2026-01")
    january = only_invoice(client, finance, contract, "2026-01")
    assert amounts(january) == [
        ("fee", "774.19"),
        ("discount", "-77.42"),
        ("fee", "2000.00"),
        ("discount", "-200.00"),
    ]
    assert january["lines"][0]["quantity"] == "12/31"
    assert january["total"] == "2496.77"


def test_fee_in_advance_is_prorated_when_the_end_date_is_known(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(client, finance, billing_timing="advance")
    contract = create_contract(client, finance, plan=plan, end_date="2026-02-14")
    run_billing(client, finance, "2026-03")
    invoices = invoices_by_period(client, finance, contract)
    assert amounts(invoices["2026-01"]) == [("fee", "2000.00"), ("fee", "1000.00")]
    assert invoices["2026-01"]["lines"][1]["quantity"] == "14/28"
    assert sum(minor(i["total"]) for i in invoices.values()) == 300000


def test_fee_in_advance_is_credited_back_when_the_contract_is_cancelled_inside_the_period(
    client: TestClient, finance: Headers
) -> None:
    """January's invoice bills January and all of February in advance; the contract is then
    cancelled to end on 2026-02-14. February is a partial period (14/28 days): over all
    invoices the customer must pay 2,000.00 + 1,000.00."""
    plan = create_plan(client, finance, billing_timing="advance")
    contract = create_contract(client, finance, plan=plan)
    run_billing(client, finance, "2026-01")
    assert only_invoice(client, finance, contract, "2026-01")["total"] == "4000.00"
    cancel = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-02-14"}, headers=finance
    )
    assert cancel.status_code == 200, cancel.text
    run_billing(client, finance, "2026-03")
    invoices = invoices_by_period(client, finance, contract)
    charged = [
        minor(line["amount"])
        for invoice in invoices.values()
        for line in invoice["lines"]
        if line["kind"] != "credit_balance"  # however the correction is carried or refunded
    ]
    assert sum(charged) == 300000


def test_proration_at_start_shows_the_days(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance, start_date="2026-01-20")
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [("fee", "774.19")]  # 2,000.00 × 12/31
    assert invoice["lines"][0]["quantity"] == "12/31"
    assert "12/31 days" in invoice["lines"][0]["description"]


def test_proration_at_end_and_nothing_after_the_end(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance, end_date="2026-02-14", committed_months=12)
    run_billing(client, finance, "2026-03")
    invoices = invoices_by_period(client, finance, contract)
    assert sorted(invoices) == ["2026-01", "2026-02"]
    february = invoices["2026-02"]
    assert amounts(february) == [("fee", "1000.00"), ("discount", "-100.00")]  # 14/28 days
    assert february["lines"][0]["quantity"] == "14/28"
    assert amounts(invoices["2026-01"]) == [("fee", "2000.00"), ("discount", "-200.00")]


def test_cancelled_mid_month_is_prorated(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    response = client.post(
        f"/v1/contracts/{contract}/cancel", json={"end_date": "2026-01-10"}, headers=finance
    )
    assert response.status_code == 200, response.text
    run_billing(client, finance, "2026-02")
    invoices = invoices_by_period(client, finance, contract)
    assert list(invoices) == ["2026-01"]
    assert amounts(invoices["2026-01"]) == [("fee", "645.16")]  # 2,000.00 × 10/31
    assert invoices["2026-01"]["lines"][0]["quantity"] == "10/31"


def test_annual_discount_needs_twelve_committed_months(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(client, finance)
    eleven = create_contract(client, finance, plan=plan, committed_months=11)
    twelve = create_contract(client, finance, plan=plan, committed_months=12)
    twenty_four = create_contract(client, finance, plan=plan, committed_months=24)
    run_billing(client, finance, "2026-01")
    assert amounts(only_invoice(client, finance, eleven, "2026-01")) == [("fee", "2000.00")]
    for contract in (twelve, twenty_four):
        assert amounts(only_invoice(client, finance, contract, "2026-01")) == [
            ("fee", "2000.00"),
            ("discount", "-200.00"),
        ]


def test_annual_discount_uses_the_plans_percentage(client: TestClient, finance: Headers) -> None:
    plan = create_plan(client, finance, annual_discount_percent="12.5")
    contract = create_contract(client, finance, plan=plan, committed_months=12)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [("fee", "2000.00"), ("discount", "-250.00")]


def test_annual_discount_is_never_taken_on_overage(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance, committed_months=12)
    post_work(client, finance, contract, "2026-01-05", 22 * 60)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [("fee", "2000.00"), ("discount", "-200.00"), ("overage", "220.00")]
    assert invoice["total"] == "2020.00"


def test_overage_is_pro_rata_by_minute(client: TestClient, finance: Headers) -> None:
    """1 h included, minute increment: 110 minutes of work leave 50 minutes of overage,
    50/60 × 110.00 = 91.666… → 91.67."""
    plan = create_plan(client, finance, included_hours="1", billing_increment_minutes=1)
    contract = create_contract(client, finance, plan=plan)
    post_work(client, finance, contract, "2026-01-05", 110)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    (overage,) = lines_of_kind(invoice, "overage")
    assert overage["amount"] == "91.67"
    assert overage["unit_price"] == "110.00"
    assert overage["quantity"] == "0.83"
    assert invoice["total"] == "2091.67"


def test_overage_one_line_per_period(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    post_work(client, finance, contract, "2026-01-05", 21 * 60)  # 1 h over in January
    post_work(client, finance, contract, "2026-02-05", 23 * 60)  # 3 h over in February
    run_billing(client, finance, "2026-02")
    invoices = invoices_by_period(client, finance, contract)
    assert lines_of_kind(invoices["2026-01"], "overage")[0]["amount"] == "110.00"
    february = lines_of_kind(invoices["2026-02"], "overage")
    assert [line["amount"] for line in february] == ["330.00"]
    assert "2026-02" in february[0]["description"]


def test_late_work_is_billed_once_on_the_next_invoice(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    post_work(client, finance, contract, "2026-01-05", 20 * 60)  # January's hours, all used
    run_billing(client, finance, "2026-01")
    january_before = only_invoice(client, finance, contract, "2026-01")

    refused = post_work(client, finance, contract, "2026-01-20", 90, expect=409)
    assert "late" in refused["detail"]
    post_work(client, finance, contract, "2026-01-20", 90, late=True)  # 1 h 30 at 110.00
    post_work(client, finance, contract, "2026-02-03", 60)  # February's own hours, no overage

    run_billing(client, finance, "2026-02")
    february = only_invoice(client, finance, contract, "2026-02")
    (late,) = lines_of_kind(february, "late_work")
    assert late["amount"] == "165.00"
    assert late["unit_price"] == "110.00"
    assert late["quantity"] == "1.50"
    assert "2026-01" in late["description"]
    assert lines_of_kind(february, "overage") == []
    assert february["total"] == "2165.00"
    # The invoiced month never changes; the late work is not billed a second time.
    assert only_invoice(client, finance, contract, "2026-01") == january_before
    run_billing(client, finance, "2026-03")
    assert lines_of_kind(only_invoice(client, finance, contract, "2026-03"), "late_work") == []


def test_late_work_for_two_periods_gets_a_line_each(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    run_billing(client, finance, "2026-02")
    post_work(client, finance, contract, "2026-01-20", 60, late=True)
    post_work(client, finance, contract, "2026-02-20", 30, late=True)
    run_billing(client, finance, "2026-03")
    march = only_invoice(client, finance, contract, "2026-03")
    late = lines_of_kind(march, "late_work")
    assert [(line["amount"], line["quantity"]) for line in late] == [
        ("110.00", "1.00"),
        ("55.00", "0.50"),
    ]
    assert "2026-01" in late[0]["description"] and "2026-02" in late[1]["description"]


def test_late_work_reversed_before_invoicing_is_not_billed(
    client: TestClient, finance: Headers
) -> None:
    contract = create_contract(client, finance)
    run_billing(client, finance, "2026-01")
    late = post_work(client, finance, contract, "2026-01-20", 60, late=True)
    reversal = client.post(f"/v1/work-entries/{late['id']}/reversal", headers=finance)
    assert reversal.status_code == 201, reversal.text
    run_billing(client, finance, "2026-02")
    assert lines_of_kind(only_invoice(client, finance, contract, "2026-02"), "late_work") == []


def test_on_demand_bills_every_minute_at_the_on_demand_rate(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client,
        finance,
        fee="0",
        included_hours="0",
        on_demand_rate="130.00",
        billing_increment_minutes=1,
    )
    contract = create_contract(client, finance, plan=plan)
    post_work(client, finance, contract, "2026-01-05", 50)
    post_work(client, finance, contract, "2026-01-06", 60)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    (on_demand,) = lines_of_kind(invoice, "on_demand")
    assert on_demand["amount"] == "238.33"  # 110/60 × 130.00 = 238.333…
    assert on_demand["unit_price"] == "130.00"
    assert on_demand["quantity"] == "1.83"
    assert lines_of_kind(invoice, "overage") == []
    assert invoice["total"] == "238.33"


def test_service_credit_from_an_incident(client: TestClient, finance: Headers) -> None:
    """January has 44,640 minutes; 1,000 minutes down → 97.76 % → 25 % of the fee charged
    (2,000.00 − 200.00 discount) = −450.00."""
    contract = create_contract(client, finance, committed_months=12)
    other = create_contract(
        client,
        finance,
        plan=create_plan(client, finance, components=[{"name": "api", "share_percent": "100"}]),
    )
    incident = client.post(
        "/v1/incidents",
        json={
            "components": ["platform"],
            "started_at": "2026-01-14T08:00:00+01:00",
            "ended_at": "2026-01-15T00:40:00+01:00",
            "scheduled": False,
            "description": "storage outage",
        },
        headers=finance,
    )
    assert incident.status_code == 201, incident.text
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [
        ("fee", "2000.00"),
        ("discount", "-200.00"),
        ("service_credit", "-450.00"),
    ]
    credit = invoice["lines"][2]
    assert "platform" in credit["description"] and "2026-01" in credit["description"]
    assert credit["quantity"] == "25 %"
    assert invoice["total"] == "1350.00"
    # A contract without the impacted component gets no credit.
    assert amounts(only_invoice(client, finance, other, "2026-01")) == [("fee", "2000.00")]


def _outage(
    client: TestClient, finance: Headers, components: list[str], start: str, end: str
) -> None:
    response = client.post(
        "/v1/incidents",
        json={
            "components": components,
            "started_at": start,
            "ended_at": end,
            "scheduled": False,
            "description": "outage",
        },
        headers=finance,
    )
    assert response.status_code == 201, response.text


def test_service_credit_is_a_share_of_the_impacted_components_fee(
    client: TestClient, finance: Headers
) -> None:
    """`api` carries 40 % of the fee: 25 % × 40 % × 2,000.00 = −200.00."""
    plan = create_plan(
        client,
        finance,
        components=[
            {"name": "platform", "share_percent": "60"},
            {"name": "api", "share_percent": "40"},
        ],
    )
    contract = create_contract(client, finance, plan=plan)
    _outage(client, finance, ["api"], "2026-01-14T08:00:00+01:00", "2026-01-15T00:40:00+01:00")
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [("fee", "2000.00"), ("service_credit", "-200.00")]
    assert "api" in invoice["lines"][1]["description"]


def test_service_credit_is_taken_from_the_prorated_fee(
    client: TestClient, finance: Headers
) -> None:
    """Started 2026-01-20: fee charged 774.19 − 77.42 = 696.77; 25 % = 174.1925 → −174.19."""
    contract = create_contract(client, finance, start_date="2026-01-20", committed_months=12)
    _outage(client, finance, ["platform"], "2026-01-21T08:00:00+01:00", "2026-01-22T00:40:00+01:00")
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [
        ("fee", "774.19"),
        ("discount", "-77.42"),
        ("service_credit", "-174.19"),
    ]


def test_scheduled_maintenance_earns_no_credit(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    incident = client.post(
        "/v1/incidents",
        json={
            "components": ["platform"],
            "started_at": "2026-01-14T08:00:00+01:00",
            "ended_at": "2026-01-15T08:00:00+01:00",
            "scheduled": True,
            "description": "planned upgrade",
        },
        headers=finance,
    )
    assert incident.status_code == 201, incident.text
    run_billing(client, finance, "2026-01")
    assert amounts(only_invoice(client, finance, contract, "2026-01")) == [("fee", "2000.00")]


def test_carried_credit_balance(client: TestClient, finance: Headers) -> None:
    """A credit larger than the invoice: the invoice stops at 0.00 and the remainder is taken
    on the next invoices until it is used up."""
    contract = create_contract(client, finance)
    add_adjustment(client, finance, contract, "-5000.00", "Goodwill for the outage")
    run_billing(client, finance, "2026-01")
    january = only_invoice(client, finance, contract, "2026-01")
    assert amounts(january) == [
        ("fee", "2000.00"),
        ("adjustment", "-5000.00"),
        ("credit_balance", "3000.00"),
    ]
    assert (january["subtotal"], january["tax"], january["total"]) == ("0.00", "0.00", "0.00")
    assert "next invoice" in january["lines"][2]["description"]

    run_billing(client, finance, "2026-02")
    february = only_invoice(client, finance, contract, "2026-02")
    assert amounts(february) == [("fee", "2000.00"), ("credit_balance", "-2000.00")]
    assert february["total"] == "0.00"

    run_billing(client, finance, "2026-03")
    march = only_invoice(client, finance, contract, "2026-03")
    assert amounts(march) == [("fee", "2000.00"), ("credit_balance", "-1000.00")]
    assert march["total"] == "1000.00"

    run_billing(client, finance, "2026-04")
    assert amounts(only_invoice(client, finance, contract, "2026-04")) == [("fee", "2000.00")]


def test_carried_credit_is_taken_before_tax(client: TestClient, finance: Headers) -> None:
    customer = create_customer(client, finance, tax_rate_percent="19")
    contract = create_contract(client, finance, customer=customer)
    add_adjustment(client, finance, contract, "-2500.00", "Refund of a prepaid workshop")
    run_billing(client, finance, "2026-02")
    invoices = invoices_by_period(client, finance, contract)
    assert invoices["2026-01"]["total"] == "0.00"
    february = invoices["2026-02"]
    assert amounts(february) == [("fee", "2000.00"), ("credit_balance", "-500.00")]
    assert (february["subtotal"], february["tax"], february["total"]) == (
        "1500.00",
        "285.00",
        "1785.00",
    )


def test_manual_adjustments_either_sign(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    added = add_adjustment(client, finance, contract, "150.00", "On-site visit")
    assert added["amount"] == "150.00" and added["invoice_id"] is None
    add_adjustment(client, finance, contract, "-25.50", "Late response goodwill")
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert amounts(invoice) == [
        ("fee", "2000.00"),
        ("adjustment", "150.00"),
        ("adjustment", "-25.50"),
    ]
    assert [line["description"] for line in lines_of_kind(invoice, "adjustment")] == [
        "On-site visit",
        "Late response goodwill",
    ]
    assert invoice["total"] == "2124.50"
    # An adjustment is billed once.
    run_billing(client, finance, "2026-02")
    assert lines_of_kind(only_invoice(client, finance, contract, "2026-02"), "adjustment") == []


def test_adjustment_refuses_zero_and_too_many_decimals(
    client: TestClient, finance: Headers, support: Headers
) -> None:
    contract = create_contract(client, finance)
    for amount in ("0.00", "10.005", "ten"):
        response = client.post(
            f"/v1/contracts/{contract}/adjustments",
            json={"amount": amount, "description": "x"},
            headers=finance,
        )
        assert response.status_code == 422, (amount, response.text)
    forbidden = client.post(
        f"/v1/contracts/{contract}/adjustments",
        json={"amount": "10.00", "description": "x"},
        headers=support,
    )
    assert forbidden.status_code == 403


def test_tax_is_rounded_half_up_once_on_the_subtotal(client: TestClient, finance: Headers) -> None:
    """100.00 + 0.75 + 0.75 = 101.50; 19 % = 19.285 → 19.29 (half-up, once). Tax per line
    would give 19.00 + 0.14 + 0.14 = 19.28; banker's rounding would give 19.28 too."""
    plan = create_plan(client, finance, fee="100.00")
    customer = create_customer(client, finance, tax_rate_percent="19")
    contract = create_contract(client, finance, plan=plan, customer=customer)
    add_adjustment(client, finance, contract, "0.75", "Postage")
    add_adjustment(client, finance, contract, "0.75", "Postage")
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert invoice["tax_rate_percent"] == "19"
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("101.50", "19.29", "120.79")
    assert sum(minor(line["amount"]) for line in invoice["lines"]) == minor(invoice["subtotal"])
    assert invoice["reverse_charge"] is False and invoice["note"] == ""


def test_reverse_charge_customer_pays_no_tax(client: TestClient, finance: Headers) -> None:
    customer = create_customer(
        client,
        finance,
        tax_rate_percent="19",
        reverse_charge=True,
        country="FR",
        vat_id="FR40303265045",
    )
    contract = create_contract(client, finance, customer=customer)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("2000.00", "0.00", "2000.00")
    assert invoice["reverse_charge"] is True
    assert "reverse charge" in invoice["note"].lower()


def test_jpy_plan_has_no_minor_digits(client: TestClient, finance: Headers) -> None:
    """¥50,000 × 12/31 = 19,354.8… → 19,355; discount 10 % = 1,935.5 → −1,936 (half-up);
    overage 75 min × ¥12,000/h = 15,000; tax 10 % of 32,419 = 3,241.9 → 3,242."""
    plan = create_plan(
        client, finance, currency="JPY", fee="50000", overage_rate="12000", included_hours="10"
    )
    customer = create_customer(
        client,
        finance,
        country="JP",
        timezone="Asia/Tokyo",
        holiday_region="JP",
        tax_rate_percent="10",
    )
    contract = create_contract(
        client, finance, plan=plan, customer=customer, start_date="2026-01-20", committed_months=12
    )
    # 10 h × 12/31 = 232.3 min → 225 min (15 increments); 300 minutes of work → 75 over.
    post_work(client, finance, contract, "2026-01-21", 300)
    run_billing(client, finance, "2026-01")
    invoice = only_invoice(client, finance, contract, "2026-01")
    assert invoice["currency"] == "JPY"
    assert amounts(invoice) == [("fee", "19355"), ("discount", "-1936"), ("overage", "15000")]
    assert invoice["lines"][2]["unit_price"] == "12000"
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("32419", "3242", "35661")


def test_quarterly_plan_fee_is_the_quarters(client: TestClient, finance: Headers) -> None:
    plan = create_plan(client, finance, period="quarter", fee="5400.00", pooling_allowed=False)
    started = create_contract(client, finance, plan=plan, start_date="2026-02-10")
    run_billing(client, finance, "2026-03")
    invoice = only_invoice(client, finance, started, "2026-03")
    # 2026-02-10 … 2026-03-31 is 50 of the quarter's 90 days: 5,400.00 × 50/90 = 3,000.00.
    assert amounts(invoice) == [("fee", "3000.00")]
    assert invoice["lines"][0]["quantity"] == "50/90"


def test_every_line_adds_up(
    client: TestClient, finance: Headers, customer_headers: Callable[[int], Headers]
) -> None:
    """One invoice with a fee, a discount, overage, late work, a service credit and an
    adjustment: lines sum to the subtotal, total = subtotal + tax."""
    customer = create_customer(client, finance, tax_rate_percent="19")
    contract = create_contract(client, finance, customer=customer, committed_months=12)
    run_billing(client, finance, "2026-01")
    post_work(client, finance, contract, "2026-01-30", 45, late=True)
    post_work(client, finance, contract, "2026-02-02", 21 * 60 + 10)
    add_adjustment(client, finance, contract, "33.33", "Extra report")
    client.post(
        "/v1/incidents",
        json={
            "components": ["platform"],
            "started_at": "2026-02-03T10:00:00+01:00",
            "ended_at": "2026-02-03T12:00:00+01:00",
            "scheduled": False,
            "description": "deploy gone wrong",
        },
        headers=finance,
    )
    run_billing(client, finance, "2026-02")
    invoice = only_invoice(client, customer_headers(customer["id"]), contract, "2026-02")
    assert [kind for kind, _ in amounts(invoice)] == [
        "fee",
        "discount",
        "overage",
        "late_work",
        "service_credit",
        "adjustment",
    ]
    assert amounts(invoice) == [
        ("fee", "2000.00"),
        ("discount", "-200.00"),
        ("overage", "137.50"),  # 1 h 15 min
        ("late_work", "82.50"),  # 45 min
        ("service_credit", "-180.00"),  # 120 min of 40,320: 99.70 % → 10 % of 1,800.00
        ("adjustment", "33.33"),
    ]
    subtotal = sum(minor(amount) for _, amount in amounts(invoice))
    assert minor(invoice["subtotal"]) == subtotal == 187333
    assert invoice["tax"] == "355.93"  # 1,873.33 × 19 % = 355.9327
    assert minor(invoice["total"]) == subtotal + minor(invoice["tax"])
