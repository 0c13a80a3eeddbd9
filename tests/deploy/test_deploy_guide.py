"""docs/deploy.md followed on this machine, on PostgreSQL: `hourglass db upgrade` on an empty
database, `hourglass serve --workers 2` and one `hourglass billing worker` with auto billing,
nginx in front (deploy/nginx/hourglass.conf), and the seeded month's month-end happens by
itself, once. Then the guide's checks: `/ready`, `/metrics`, the request id through the proxy,
JSON logs, and a `pg_dump` backup restored into a new database that serves the same invoices.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import DatabaseFactory
from tests.deploy.test_deploy_files import nginx_config
from tests.invoices.billing.helpers import hourglass
from tests.support.postgres_server import _bindir
from tests.support.serving import (
    free_port,
    read_rows,
    seed_due_month,
    start,
    stop,
    wait_for_auto_run,
    wait_ready,
)

GUIDE_ENV = {
    "HOURGLASS_AUTO_BILLING": "true",
    "HOURGLASS_LOG_FORMAT": "json",
    "HOURGLASS_WORKER_HEALTHCHECK_TIMEOUT": "60",
}


def _metric(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    raise AssertionError(f"{name} not exposed")


def _health_requests(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "hourglass_http_requests_total" and sample.labels["route"] == "/health"
    )


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def empty_database(database_factory: DatabaseFactory) -> Any:
    url = database_factory.empty()
    yield url
    database_factory.drop(url)


@pytest.mark.slow
@pytest.mark.postgres_only
def test_the_guide_on_postgresql(
    empty_database: str, database_factory: DatabaseFactory, tmp_path: Path, db_kind: str
) -> None:
    url = empty_database
    # 3. PostgreSQL: migrations first.
    upgraded = hourglass(url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    seeded = seed_due_month(url, contracts=6)
    created = hourglass(url, "token", "create", "--role", "finance", "--name", "ops")
    assert created.returncode == 0, created.stderr
    finance = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}

    # 5. and 6. Two API processes and a billing worker, auto billing on everywhere.
    port = free_port()
    api = start(url, "serve", "--port", str(port), "--workers", "2", **GUIDE_ENV)
    worker = start(url, "billing", "worker", **GUIDE_ENV)
    proxy = None
    try:
        wait_ready(port, api, timeout=180)
        if shutil.which("nginx"):
            proxy_port = free_port()
            config = nginx_config(tmp_path, listen=proxy_port, upstream=port)
            proxy = subprocess.Popen(
                ["nginx", "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
                stderr=subprocess.PIPE,
            )
        # 7. The month-end happens by itself, once.
        runs = wait_for_auto_run(url, seeded.month)
        assert [status for _, status in runs] == ["completed"], runs
        invoices = read_rows(url, "SELECT contract_id, period_label, number FROM invoices")
        label = seeded.month.strftime("%Y-%m")
        assert sorted((cid, period) for cid, period, _ in invoices) == sorted(
            (cid, label) for cid in seeded.contract_ids
        )
        assert len(read_rows(url, "SELECT 1 FROM auto_billing_runs")) == 1

        # 10. Metrics from the database agree whichever process answers.
        base = f"http://127.0.0.1:{port}"
        health_before = _health_requests(httpx.get(f"{base}/metrics", timeout=10).text)
        for _ in range(20):  # spread over both API processes by the kernel
            assert httpx.get(f"{base}/health", headers={"Connection": "close"}).status_code == 200
        for _ in range(4):
            scraped = httpx.get(f"{base}/metrics", timeout=10)
            assert scraped.status_code == 200
            assert _metric(scraped.text, "hourglass_invoices_issued_total") == len(invoices)
            assert _metric(scraped.text, "hourglass_billing_jobs_waiting") == 0
            # HTTP counters are summed over the processes: every scrape sees all 20.
            assert _health_requests(scraped.text) - health_before == 20
        listed = httpx.get(f"{base}/v1/invoices", headers=finance, params={"limit": 100})
        assert listed.status_code == 200 and len(listed.json()["items"]) == len(invoices)

        # 8. Through the reverse proxy: the API, the request id; /metrics kept inside.
        if proxy is not None:
            via = f"http://127.0.0.1:{proxy_port}"
            for _ in range(50):
                try:
                    httpx.get(f"{via}/health", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            answer = httpx.get(
                f"{via}/v1/invoices", headers={**finance, "X-Request-Id": "via-nginx-1"}
            )
            assert answer.status_code == 200
            assert answer.headers["x-request-id"] == "via-nginx-1"
            made = httpx.get(f"{via}/health")
            assert len(made.headers["x-request-id"]) == 32  # nginx's $request_id
            assert httpx.get(f"{via}/metrics").status_code == 403
            assert httpx.get(f"{via}/ready").status_code == 200
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        worker_log = stop(worker)
        api_log = stop(api)
    # 9. JSON logs: every line of the API is an object; request lines carry the fields.
    lines = [json.loads(line) for line in api_log.splitlines() if line.startswith("{")]
    assert lines and all(isinstance(line, dict) for line in lines)
    requests = [line for line in lines if line["logger"] == "hourglass.http"]
    assert requests and {"request_id", "method", "path", "status", "duration_ms", "level"} <= set(
        requests[-1]
    )
    assert "Traceback" not in api_log + worker_log
    assert finance["Authorization"].split()[1] not in api_log

    # 11. Backups: pg_dump, restored into a new database, serves the same invoices.
    dump = tmp_path / "hourglass.dump"
    bindir = _bindir()
    subprocess.run(
        [str(bindir / "pg_dump"), "--format=custom", f"--file={dump}", _libpq(url)], check=True
    )
    restored = database_factory.empty()
    try:
        subprocess.run(
            [str(bindir / "pg_restore"), "--no-owner", f"--dbname={_libpq(restored)}", str(dump)],
            check=True,
        )
        assert hourglass(restored, "db", "upgrade").returncode == 0
        again = read_rows(restored, "SELECT contract_id, period_label, number FROM invoices")
        assert sorted(again) == sorted(invoices)
    finally:
        database_factory.drop(restored)
    refused = hourglass(url, "db", "backup", str(tmp_path / "x.db"))
    assert refused.returncode == 2 and "pg_dump" in refused.stderr
