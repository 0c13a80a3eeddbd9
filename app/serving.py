"""`hourglass serve`: uvicorn with N API processes, started robustly.

- Migrations run once, in the parent, before any worker process exists (`hourglass serve`
  calls `db upgrade` first), so workers never race to migrate and start on a ready schema.
- uvicorn's supervisor pings each worker and kills one that does not answer within
  `timeout_worker_healthcheck` (5 s by default). On a loaded two-core machine a worker that is
  still importing the application can miss that, and is killed before it ever served; we give
  workers 60 s by default (`--worker-healthcheck-timeout`, HOURGLASS_WORKER_HEALTHCHECK_TIMEOUT).
- With more than one process, HTTP metrics are kept in prometheus-client's multiprocess files
  (a fresh directory per server start, removed at exit) so any process's `/metrics` shows the
  sum over all of them.
- Logs: uvicorn's own logging config is not applied; every line goes through ours
  (HOURGLASS_LOG_FORMAT), and our request line replaces uvicorn's access log.
- Connections: our HTTP protocol (`app.serving_protocol`) sets TCP_NODELAY on each, which
  uvicorn's multi-worker socket otherwise leaves off (~40 ms per response); uvloop's event loop
  and httptools' parser when installed (both are dependencies).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from app.observability.logs import configure_logging
from app.serving_protocol import PROTOCOL
from app.settings import load_settings


def serve_api(*, host: str, port: int, workers: int, healthcheck_timeout: int) -> None:
    import uvicorn

    configure_logging(load_settings().log_format)
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="hourglass-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "app.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            http=PROTOCOL,
            loop="auto",  # uvloop when installed
            timeout_worker_healthcheck=healthcheck_timeout,
        )
    finally:
        if metrics_dir is not None:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            shutil.rmtree(metrics_dir, ignore_errors=True)
