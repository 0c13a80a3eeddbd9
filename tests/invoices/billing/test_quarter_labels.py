"""SPEC "Fees": every label of a quarter names it by its last month (with its first and last day
where a range is printed), and `?period=` finds a quarter's invoice by any of its months."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.invoices.billing.helpers import (
    Headers,
    create_contract,
    create_plan,
    list_invoices,
    post_work,
    run_billing,
)


def test_a_quarter_is_named_by_its_last_month_everywhere(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client, finance, period="quarter", included_hours="60", pooling_allowed=False
    )
    contract = create_contract(client, finance, plan=plan)
    for month in ("2026-01", "2026-02", "2026-03"):
        run_billing(client, finance, month)
    (q1,) = list_invoices(client, finance, contract_id=contract)
    assert q1["period"] == "2026-03"
    assert "2026-03 (2026-01-01 – 2026-03-31)" in q1["lines"][0]["description"]
    for month in ("2026-01", "2026-02", "2026-03"):
        found = list_invoices(client, finance, contract_id=contract, period=month)
        assert [i["id"] for i in found] == [q1["id"]], month
    assert list_invoices(client, finance, contract_id=contract, period="2026-04") == []

    statement = client.get(
        f"/v1/contracts/{contract}/statement", params={"month": "2026-02"}, headers=finance
    ).json()
    assert (statement["month"], statement["period"]) == ("2026-02", "2026-03")

    late = post_work(client, finance, contract, "2026-02-10", 60, late=True)
    assert late["late"] is True
    for month in ("2026-04", "2026-05", "2026-06"):
        run_billing(client, finance, month)
    q2 = list_invoices(client, finance, contract_id=contract, period="2026-05")
    assert [i["period"] for i in q2] == ["2026-06"]
    (line,) = [line for line in q2[0]["lines"] if line["kind"] == "late_work"]
    assert line["description"].startswith("Late work for 2026-03 (2026-01-01 – 2026-03-31)")
