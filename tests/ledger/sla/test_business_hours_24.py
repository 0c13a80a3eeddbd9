"""SPEC "SLA: response times": seed 003's "24/5" support hours are entered as
`{start: "00:00", end: "24:00"}` and mean every minute of the business days."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import customer_payload, plan_payload

Headers = dict[str, str]
TWENTY_FOUR_FIVE = {"start": "00:00", "end": "24:00", "weekdays": [1, 2, 3, 4, 5]}


def test_a_24_5_plan_counts_every_minute_of_a_weekday_and_none_of_the_weekend(
    client: TestClient, finance: Headers
) -> None:
    body = plan_payload(
        business_hours=TWENTY_FOUR_FIVE,
        response_targets={"S3": {"minutes": 360, "calendar": "business"}},
    )
    plan = client.post("/v1/plans", json=body, headers=finance)
    assert plan.status_code == 201, plan.text
    assert plan.json()["business_hours"]["end"] == "24:00"
    customer = client.post("/v1/customers", json=customer_payload(), headers=finance).json()
    contract = client.post(
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan_code": body["code"], "start_date": "2026-01-01"},
        headers=finance,
    ).json()
    ticket = client.post(
        "/v1/tickets",
        json={
            "contract_id": contract["id"],
            "severity": "S3",
            "opened_at": "2026-01-16T22:00:00+01:00",  # Friday, 2 h before midnight
            "reference": "R-24-5",
        },
        headers=finance,
    )
    assert ticket.status_code == 201, ticket.text
    # 2 h on Friday to midnight, nothing on the weekend, 4 h from Monday 00:00.
    assert ticket.json()["due_at"] == "2026-01-19T03:00:00Z"


def test_business_hours_ending_before_they_start_are_still_refused(
    client: TestClient, finance: Headers
) -> None:
    body = plan_payload(business_hours={"start": "18:00", "end": "09:00"})
    assert client.post("/v1/plans", json=body, headers=finance).status_code == 422
    body = plan_payload(business_hours={"start": "00:00", "end": "24:30"})
    assert client.post("/v1/plans", json=body, headers=finance).status_code == 422
