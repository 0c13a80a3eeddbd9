"""A busy month: 600 work entries on one invoice, through the API, flow over numbered pages."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.factories import billing_run, customer_payload, plan_payload

ENTRIES = 600
BATCH = 200
STATEMENT_HEADER = "Date Ticket Level Minutes Description Covered by"


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _entry(contract_id: int, index: int) -> dict[str, Any]:
    return {
        "contract_id": contract_id,
        "worked_on": f"2026-04-{index % 30 + 1:02d}",
        "minutes": (10, 15, 25, 30, 45, 60)[index % 6],
        "level": index % 4 + 1,
        "ticket_ref": f"LS-{index + 1:04d}",
        "description": f"Request {index + 1}: diagnosis and fix",
    }


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace as one space (pypdf: fast on many pages)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_600_entries_fill_numbered_pages_and_every_ticket_is_listed(
    client: TestClient, finance: dict[str, str], tmp_path: Path
) -> None:
    plan = _created(client.post("/v1/plans", json=plan_payload(), headers=finance))["code"]
    customer = _created(
        client.post("/v1/customers", json=customer_payload(name="Łódź Sp. z o.o."), headers=finance)
    )
    contract = _created(
        client.post(
            "/v1/contracts",
            json={"customer_id": customer["id"], "plan_code": plan, "start_date": "2026-04-01"},
            headers=finance,
        )
    )
    contract_id = int(contract["id"])
    for start in range(0, ENTRIES, BATCH):
        batch = [_entry(contract_id, index) for index in range(start, start + BATCH)]
        posted = _created(
            client.post("/v1/work-entries/batch", json={"entries": batch}, headers=finance)
        )
        assert len(posted["items"]) == BATCH
    run = billing_run(client, finance, "2026-04")
    assert run["status"] == "completed" and run["invoices"] == 1, run
    [invoice] = client.get(f"/v1/invoices?contract_id={contract_id}", headers=finance).json()[
        "items"
    ]
    statement = client.get(
        f"/v1/contracts/{contract_id}/statement?month=2026-04", headers=finance
    ).json()
    assert len(statement["entries"]) == ENTRIES
    total_minutes = sum(entry["billable_minutes"] for entry in statement["entries"])

    response = client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance)
    assert response.status_code == 200
    pages = page_texts(response.content)

    page_count = len(pages)
    assert page_count >= 8, page_count  # ~55 statement rows a page, after the summary page
    for number, text in enumerate(pages, start=1):
        assert text.endswith(f"Page {number} of {page_count}"), (number, text[-200:])
        if number > 1:
            assert text.count(STATEMENT_HEADER) == 1, number
    assert STATEMENT_HEADER not in pages[0]
    refs = Counter(re.findall(r"\bLS-\d{4}\b", "\n".join(pages[1:])))
    assert set(refs) == {f"LS-{n:04d}" for n in range(1, ENTRIES + 1)}
    assert set(refs.values()) == {1}
    assert f"{ENTRIES} work entries, {total_minutes} minutes" in pages[1]
    assert f"Total {total_minutes} Invoice {invoice['number']}" in pages[-1]
    # The rows come in date order, as on the statement.
    dates = re.findall(r"\b(2026-04-\d{2}) LS-", " ".join(pages[1:]))
    assert len(dates) == ENTRIES and dates == sorted(dates)

    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.fail("`qpdf` is not installed (apt-get install -y qpdf)")
    path = tmp_path / "long.pdf"
    path.write_bytes(response.content)
    check = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
