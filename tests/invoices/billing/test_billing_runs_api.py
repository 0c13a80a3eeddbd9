"""Billing runs through the API run in the background: `POST` answers 202 at once, the run is
followed with `GET`, listed newest first, and its invoices found by `billing_run_id`; a real
`hourglass serve` bills a run by itself with its own worker thread."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.invoices.billing.helpers import (
    HOURGLASS,
    Headers,
    cli_env,
    create_contract,
    hourglass,
    list_invoices,
    load_dataset,
    post_work,
    run_billing,
)


def test_a_run_answers_202_at_once_and_is_followed_to_its_end(
    client: TestClient, finance: Headers
) -> None:
    contracts = [create_contract(client, finance) for _ in range(3)]
    post_work(client, finance, contracts[0], "2026-01-10", 21 * 60)
    response = client.post("/v1/billing-runs", json={"period": "2026-01"}, headers=finance)
    assert response.status_code == 202, response.text
    started = response.json()
    assert (started["status"], started["contracts"], started["done"]) == ("running", 3, 0)
    assert started["invoices"] == 0 and started["finished_at"] is None
    # Nothing was billed inside the request.
    assert list_invoices(client, finance) == []
    shown = client.get(f"/v1/billing-runs/{started['id']}", headers=finance).json()
    assert shown["status"] == "running"

    assert client.app.state.billing_worker.drain() >= 1  # type: ignore[attr-defined]
    done = client.get(f"/v1/billing-runs/{started['id']}", headers=finance).json()
    assert (done["status"], done["contracts"], done["done"], done["failed"]) == (
        "completed",
        3,
        3,
        0,
    )
    assert (done["invoices"], done["totals"]) == (3, {"EUR": "6110.00"})
    issued = list_invoices(client, finance, billing_run_id=started["id"])
    assert sorted(i["contract_id"] for i in issued) == sorted(contracts)
    assert list_invoices(client, finance, billing_run_id=started["id"] + 1) == []


def test_runs_are_listed_newest_first_page_by_page(client: TestClient, finance: Headers) -> None:
    create_contract(client, finance)
    ids = [run_billing(client, finance, month)["id"] for month in ("2026-01", "2026-02", "2026-03")]
    seen: list[int] = []
    query: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = client.get("/v1/billing-runs", params=query, headers=finance).json()
        seen += [run["id"] for run in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]
    assert seen == ids[::-1] and pages == 2
    first = client.get("/v1/billing-runs", headers=finance).json()["items"][0]
    assert (first["period"], first["status"], first["invoices"]) == ("2026-03", "completed", 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hourglass_serve_bills_a_run_with_its_background_worker(fresh_database: str) -> None:
    url = fresh_database
    data = load_dataset(url, contracts=6, entries_per_contract=1)
    token = hourglass(url, "token", "create", "--role", "finance").stdout.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [str(HOURGLASS), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=cli_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"hourglass serve did not start: {server.stderr}")
                time.sleep(0.2)
        response = httpx.post(
            f"{base}/v1/billing-runs", json={"period": "2026-01"}, headers=headers, timeout=10
        )
        assert response.status_code == 202, response.text
        run_id = response.json()["id"]
        while True:
            run = httpx.get(f"{base}/v1/billing-runs/{run_id}", headers=headers, timeout=10).json()
            if run["status"] != "running" or time.monotonic() > deadline + 60:
                break
            time.sleep(0.2)
        assert (run["status"], run["done"], run["invoices"]) == ("completed", 6, 6), run
        issued = httpx.get(
            f"{base}/v1/invoices", params={"billing_run_id": run_id}, headers=headers, timeout=10
        ).json()["items"]
        assert sorted(i["contract_id"] for i in issued) == sorted(data.contract_ids)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
