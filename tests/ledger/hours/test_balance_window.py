"""A balance reads its contract, plan and allotments in one query before it knows the
contract's time zone: it fetches what is usable within a day of the instant's UTC date and
keeps what the local date allows. These instants sit where the local date, the month and
the quarter differ from UTC's (issue #12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.ledger.hours.helpers import (
    Headers,
    balance,
    contract_id,
    create_customer,
    create_plan,
    post_work,
)

MONTH = 20 * 60


@pytest.mark.parametrize(
    ("zone", "last_local_minute_of_march", "first_local_minute_of_april"),
    [
        ("Pacific/Kiritimati", "2026-03-31T09:59:00Z", "2026-03-31T10:00:00Z"),  # UTC+14
        ("Pacific/Pago_Pago", "2026-04-01T10:59:00Z", "2026-04-01T11:00:00Z"),  # UTC-11
    ],
)
def test_the_local_date_picks_the_allotment_the_period_and_its_overage(
    client: TestClient,
    finance: Headers,
    zone: str,
    last_local_minute_of_march: str,
    first_local_minute_of_april: str,
) -> None:
    """March is used up with 90 minutes of overage; April is untouched. On either side of
    local midnight the balance shows the local day's month, its allotment and its overage,
    whatever the UTC date says."""
    customer = create_customer(client, finance, timezone=zone)
    contract = contract_id(client, finance, customer=customer)
    post_work(client, finance, contract, "2026-03-30", MONTH + 90)
    post_work(client, finance, contract, "2026-04-02", 30)

    march = balance(client, finance, contract, last_local_minute_of_march)
    assert march["period"] == "2026-03"
    assert march["overage_minutes"] == 90
    assert march["remaining_minutes"] == 0
    assert [line["months"] for line in march["allotments"]] == [["2026-03"]]

    april = balance(client, finance, contract, first_local_minute_of_april)
    assert april["period"] == "2026-04"
    assert april["overage_minutes"] == 0
    assert april["remaining_minutes"] == MONTH - 30
    assert [line["months"] for line in april["allotments"]] == [["2026-04"]]


def test_a_quarterly_period_starts_with_the_local_quarter(
    client: TestClient, finance: Headers
) -> None:
    """At 2026-07-01 00:30 in Kiritimati it is still June 30 in UTC: the period (and its
    overage) is the third quarter's (named by its last month), not the second's."""
    plan = create_plan(
        client, finance, period="quarter", included_hours="60", pooling_allowed=False
    )
    customer = create_customer(client, finance, timezone="Pacific/Kiritimati")
    contract = contract_id(client, finance, plan=plan, customer=customer, start_date="2026-04-01")
    post_work(client, finance, contract, "2026-06-10", 60 * 60 + 45)
    second = balance(client, finance, contract, "2026-06-30T09:30:00Z")
    assert (second["period"], second["overage_minutes"]) == ("2026-06", 45)
    third = balance(client, finance, contract, "2026-06-30T10:30:00Z")
    assert (third["period"], third["overage_minutes"]) == ("2026-09", 0)
    assert third["remaining_minutes"] == 60 * 60
