"""`/metrics`: Prometheus text that `prometheus_client.parser` reads, counters that move, the
route template (never the raw path) as label, database-derived figures that every process
agrees on, and access as HOURGLASS_METRICS_PUBLIC says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.billing import make_biller
from app.db import make_engine, normalise_url, session_factory, unit_of_work
from app.main import create_app
from app.observability import metrics
from app.settings import Settings
from invoices.payments.models import PaymentOutbox
from invoices.runs import flows
from ledger.periods import parse_month
from tests.invoices.billing.helpers import load_dataset

LOOPBACK = ("127.0.0.1", 40000)
REMOTE = ("203.0.113.9", 40000)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client: TestClient, **kwargs: object) -> str:
    response = client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_http_counters_move_by_route_template(app: object, finance: dict[str, str]) -> None:
    client = TestClient(app, client=LOOPBACK)  # type: ignore[arg-type]
    route = {"method": "GET", "route": "/v1/plans/{code}", "status": "404"}
    before = scrape(client)
    for code in ("nope-1", "nope-2", "nope-3"):
        assert client.get(f"/v1/plans/{code}", headers=finance).status_code == 404
    client.get("/no/such/path")
    after = scrape(client)
    assert value(after, "hourglass_http_requests_total", **route) == (
        value(before, "hourglass_http_requests_total", **route) + 3
    )
    assert not any("nope-1" in str(key) for key in samples(after))
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "hourglass_http_requests_total", **unmatched) >= 1
    count = "hourglass_http_request_duration_seconds_count"
    assert value(after, count, route="/v1/plans/{code}") == (
        value(before, count, route="/v1/plans/{code}") + 3
    )
    names = {f.name for f in text_string_to_metric_families(after)}
    assert {
        "hourglass_http_requests",
        "hourglass_http_request_duration_seconds",
        "hourglass_billing_jobs_waiting",
        "hourglass_invoices_issued",
        "hourglass_outbox_depth",
        "hourglass_webhook_delivery_failures",
    } <= names


@pytest.fixture
def real_app(fresh_database: str) -> Iterator[tuple[TestClient, str]]:
    engine = make_engine(fresh_database, poolclass=sa.NullPool)
    app = create_app(Settings(database_url=fresh_database), engine=engine)
    yield TestClient(app, client=LOOPBACK), fresh_database
    engine.dispose()


def test_database_figures_are_counted_at_scrape(
    real_app: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, url = real_app
    monkeypatch.setitem(metrics.OUTBOXES, "emails", metrics.TableCount("no_such_outbox_yet"))
    data = load_dataset(url, contracts=3, entries_per_contract=1)
    first = scrape(client)
    assert value(first, "hourglass_invoices_issued_total") == 0
    assert value(first, "hourglass_billing_jobs_waiting") == 0
    for outbox in ("payments", "emails", "webhooks"):
        assert value(first, "hourglass_outbox_depth", outbox=outbox) == 0
    assert value(first, "hourglass_webhook_delivery_failures_total") == 0

    engine = make_engine(url, poolclass=sa.NullPool)
    factory = session_factory(engine)
    try:
        run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
        waiting = scrape(client)
        assert value(waiting, "hourglass_billing_jobs_waiting") == len(data.contract_ids)
        assert value(waiting, "hourglass_billing_runs_running") == 1
        flows.work_run(make_biller(Settings(database_url=url), factory), run_id)
        with unit_of_work(factory) as session:
            invoice_id = session.scalar(sa.text("SELECT min(id) FROM invoices"))
            if not session.scalar(sa.text("SELECT count(*) FROM payment_outbox")):
                session.add(PaymentOutbox(invoice_id=invoice_id, idempotency_key="k-1"))
            pending = session.scalar(
                sa.text("SELECT count(*) FROM payment_outbox WHERE state = 'pending'")
            )
    finally:
        engine.dispose()
    done = scrape(client)
    assert value(done, "hourglass_invoices_issued_total") == len(data.contract_ids)
    assert value(done, "hourglass_billing_jobs_waiting") == 0
    assert value(done, "hourglass_billing_runs_running") == 0
    assert value(done, "hourglass_outbox_depth", outbox="payments") == pending >= 1
    # A second process (another app on the same database) sees the same figures.
    other = create_app(Settings(database_url=url))
    again = scrape(TestClient(other, client=LOOPBACK))
    assert value(again, "hourglass_invoices_issued_total") == len(data.contract_ids)
    other.state.engine.dispose()


def test_the_notification_outboxes_plug_in(
    real_app: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The e-mail and webhook conditions, run against stand-in tables of the same columns."""
    client, url = real_app
    engine = sa.create_engine(normalise_url(url), poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ops_emails (state VARCHAR(10))")
        conn.exec_driver_sql("CREATE TABLE ops_webhooks (state VARCHAR(10))")
        conn.exec_driver_sql("CREATE TABLE ops_attempts (succeeded BOOLEAN)")
        for state in ("pending", "sending", "sent", "skipped", "failed"):
            conn.execute(sa.text("INSERT INTO ops_emails VALUES (:s)"), {"s": state})
        for state in ("pending", "pending", "delivered", "failed"):
            conn.execute(sa.text("INSERT INTO ops_webhooks VALUES (:s)"), {"s": state})
        for succeeded in (False, True, False, False):
            conn.execute(sa.text("INSERT INTO ops_attempts VALUES (:s)"), {"s": succeeded})
    engine.dispose()
    for name, table in (("emails", "ops_emails"), ("webhooks", "ops_webhooks")):
        monkeypatch.setitem(
            metrics.OUTBOXES, name, metrics.TableCount(table, metrics.OUTBOXES[name].condition)
        )
    monkeypatch.setattr(
        metrics,
        "WEBHOOK_DELIVERY_FAILURES",
        metrics.TableCount("ops_attempts", metrics.WEBHOOK_DELIVERY_FAILURES.condition),
    )
    text = scrape(client)
    assert value(text, "hourglass_outbox_depth", outbox="emails") == 2
    assert value(text, "hourglass_outbox_depth", outbox="webhooks") == 2
    assert value(text, "hourglass_webhook_delivery_failures_total") == 3
    with pytest.raises(ValueError):
        metrics.TableCount("api_tokens; DROP TABLE x")


def test_access_follows_hourglass_metrics_public(
    app: object, finance: dict[str, str], support: dict[str, str]
) -> None:
    state = app.state  # type: ignore[attr-defined]
    remote = TestClient(app, client=REMOTE)  # type: ignore[arg-type]
    local = TestClient(app, client=LOOPBACK)  # type: ignore[arg-type]
    # Default: loopback open, anyone else needs a finance token.
    assert local.get("/metrics").status_code == 200
    assert remote.get("/metrics").status_code == 401
    assert remote.get("/metrics", headers=support).status_code == 403
    assert remote.get("/metrics", headers=finance).status_code == 200
    state.settings = replace(state.settings, metrics_public="false")
    assert local.get("/metrics").status_code == 401
    assert local.get("/metrics", headers=finance).status_code == 200
    state.settings = replace(state.settings, metrics_public="true")
    assert remote.get("/metrics").status_code == 200
