"""`/metrics`: Prometheus text exposition.

Two kinds of metrics, kept apart on purpose:

- HTTP metrics (`hourglass_http_requests_total`, `hourglass_http_request_duration_seconds`)
  live in the process that served the request. With `hourglass serve --workers N` the server
  sets `PROMETHEUS_MULTIPROC_DIR` before forking, prometheus-client writes every process's
  values to files there, and a scrape of any process sums all of them.
- Everything about the work (jobs waiting, invoices issued, outbox depths, webhook failures)
  is counted in the database at scrape time by `DatabaseCollector`, so N API processes and
  billing workers on other machines always agree: no process keeps a counter of its own.
  `hourglass_invoices_issued_total` is the number of invoices that carry a number, which only
  ever grows (a void keeps its number), so it is a true counter.

prometheus-client directly rather than prometheus-fastapi-instrumentator: the instrumentator's
defaults are `http_requests_total{handler,method,status}` with statuses grouped as `2xx`, plus
size summaries we do not need; SPEC's names and `route` label would mean configuring or
replacing its instrumentations, i.e. our own code on top of it; its multiprocess support is
prometheus-client's anyway; and one middleware of ours times each request once for the
metrics, the request id and the log line.

Outboxes register themselves in `OUTBOXES` (name → table and the SQL condition of a row still
waiting); one whose table does not exist yet reports 0.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

router = APIRouter(tags=["health"])

# The process's own registry (HTTP metrics); the default registry's process_/python_ metrics
# are added at scrape time outside multiprocess mode.
HTTP_REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "hourglass_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=HTTP_REGISTRY,
)
DURATION = Histogram(
    "hourglass_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=HTTP_REGISTRY,
)
UNMATCHED_ROUTE = "unmatched"  # 404s: never the raw path, or a scanner could blow up cardinality


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    DURATION.labels(route=route).observe(seconds)


# --- database-derived metrics ------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class TableCount:
    """`SELECT count(*) FROM table WHERE condition`; 0 when the table does not exist (yet)."""

    table: str
    condition: str = "1 = 1"

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.table):
            raise ValueError(f"not a table name: {self.table!r}")


# Outbox name → the rows still waiting to go out. The e-mail and webhook outboxes are the
# notifications' tables (invoices/notifications/models.py), the same conditions as their
# `invoices.notifications.metrics` functions; until those tables exist they count 0.
OUTBOXES: dict[str, TableCount] = {
    "payments": TableCount("payment_outbox", "state = 'pending'"),
    "emails": TableCount("email_outbox", "state IN ('pending', 'sending')"),
    "webhooks": TableCount("webhook_deliveries", "state = 'pending'"),
}
# Failed webhook delivery attempts, ever (a counter: attempts are never deleted).
WEBHOOK_DELIVERY_FAILURES = TableCount("webhook_attempts", "succeeded = false")


def register_outbox(name: str, count: TableCount) -> None:
    OUTBOXES[name] = count


class DatabaseCollector(Collector):
    """Counts in the database at each scrape (a few indexed `count(*)` queries).

    Read on a raw DBAPI connection in autocommit: on SQLite our sessions begin with
    `BEGIN IMMEDIATE`, the write lock, which a scrape must never wait for."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                yield from self._metrics(cursor, self.engine.dialect.name)
            finally:
                cursor.close()
                raw.rollback()
        finally:
            raw.close()

    def _metrics(self, cursor: Any, dialect: str) -> Iterable[Metric]:
        def table_exists(table: str) -> bool:
            if dialect == "sqlite":
                sql = (
                    f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
                )
            else:
                sql = f"SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '{table}'"  # noqa: E501
            cursor.execute(sql)
            return bool(cursor.fetchone()[0])

        def count(what: TableCount) -> int:
            if not table_exists(what.table):
                return 0
            cursor.execute(f"SELECT count(*) FROM {what.table} WHERE {what.condition}")
            return int(cursor.fetchone()[0])

        waiting = GaugeMetricFamily(
            "hourglass_billing_jobs_waiting",
            "Billing jobs (one per contract) of running runs not yet taken by a worker.",
        )
        waiting.add_metric(
            [],
            count(
                TableCount(
                    "billing_jobs",
                    "status = 'pending' AND run_id IN "
                    "(SELECT id FROM billing_runs WHERE status = 'running')",
                )
            ),
        )
        yield waiting

        running = GaugeMetricFamily("hourglass_billing_runs_running", "Billing runs not finished.")
        running.add_metric([], count(TableCount("billing_runs", "status = 'running'")))
        yield running

        failed = GaugeMetricFamily(
            "hourglass_billing_jobs_failed",
            "Contracts whose billing failed in the latest run of their period (to retry).",
        )
        failed.add_metric(
            [],
            count(
                TableCount(
                    "billing_jobs",
                    "status = 'failed' AND run_id IN "
                    "(SELECT max(id) FROM billing_runs GROUP BY period_start)",
                )
            ),
        )
        yield failed

        issued = CounterMetricFamily(
            "hourglass_invoices_issued", "Invoices issued (numbered), ever, by every process."
        )
        issued.add_metric([], count(TableCount("invoices", "number IS NOT NULL")))
        yield issued

        depth = GaugeMetricFamily(
            "hourglass_outbox_depth",
            "Rows of an outbox still waiting to go out.",
            labels=["outbox"],
        )
        for name, what in sorted(OUTBOXES.items()):
            depth.add_metric([name], count(what))
        yield depth

        failures = CounterMetricFamily(
            "hourglass_webhook_delivery_failures", "Failed webhook delivery attempts, ever."
        )
        failures.add_metric([], count(WEBHOOK_DELIVERY_FAILURES))
        yield failures


# --- the endpoint ------------------------------------------------------------------------------


def exposition(engine: Engine) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # every API process's HTTP metrics
    else:
        from prometheus_client import REGISTRY

        for collector in (HTTP_REGISTRY, REGISTRY):  # ours + process_/python_
            registry.register(_Forward(collector))
    registry.register(DatabaseCollector(engine))
    return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_access(request: Request) -> None:
    """HOURGLASS_METRICS_PUBLIC: `true` open to all, `false` a finance token always, unset
    (`loopback`) open to loopback clients and a finance token from anywhere else."""
    mode = request.app.state.settings.metrics_public
    if mode == "true" or (mode == "loopback" and _is_loopback(request)):
        return
    from app.auth.tokens import Role
    from app.dependencies import get_principal

    principal = get_principal(request)
    if principal.role is not Role.FINANCE:
        raise HTTPException(403, f"a {principal.role.value} token cannot read the metrics")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"},
        401: {"description": "a token is needed from where this request came"},
        403: {"description": "only a finance token may read the metrics"},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics. Open to loopback clients by default (HOURGLASS_METRICS_PUBLIC)."""
    check_access(request)
    return Response(exposition(request.app.state.engine), media_type=CONTENT_TYPE_LATEST)
