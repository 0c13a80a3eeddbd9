"""`hourglass --version` and `hourglass serve --workers N`: migrations once in the parent, a
worker health-check timeout a loaded machine can meet, shared HTTP metrics across workers."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from app import cli
from app.serving_protocol import PROTOCOL
from tests.invoices.billing.helpers import HOURGLASS


def test_version() -> None:
    result = subprocess.run([str(HOURGLASS), "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"hourglass {version('hourglass')}"


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_run(app: str, **kwargs: Any) -> None:
        calls.append(
            {"app": app, **kwargs, "metrics_dir": os.environ.get("PROMETHEUS_MULTIPROC_DIR")}
        )

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("HOURGLASS_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    return calls


def test_serve_migrates_once_then_forks_with_a_patient_health_check(
    uvicorn_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli.cli, ["serve", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert "database is at the latest schema" in result.output  # before any worker exists
    (call,) = uvicorn_calls
    assert call["app"] == "app.asgi:app" and call["workers"] == 3
    assert call["timeout_worker_healthcheck"] == 60  # uvicorn's 5 s killed workers under load
    assert call["access_log"] is False and call["log_config"] is None
    assert call["metrics_dir"] and not Path(call["metrics_dir"]).exists()  # removed at exit
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_serve_health_check_timeout_is_configurable(
    uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli.cli, ["serve", "--worker-healthcheck-timeout", "90"]).exit_code == 0
    monkeypatch.setenv("HOURGLASS_WORKER_HEALTHCHECK_TIMEOUT", "120")
    monkeypatch.setenv("HOURGLASS_WORKERS", "2")
    assert runner.invoke(cli.cli, ["serve"]).exit_code == 0
    assert [(c["workers"], c["timeout_worker_healthcheck"]) for c in uvicorn_calls] == [
        (1, 90),
        (2, 120),
    ]
    assert uvicorn_calls[0]["metrics_dir"] is None  # one process: plain in-memory metrics


def test_serve_uses_the_no_delay_protocol(uvicorn_calls: list[dict[str, Any]]) -> None:
    assert CliRunner().invoke(cli.cli, ["serve", "--workers", "2"]).exit_code == 0
    (call,) = uvicorn_calls
    assert call["http"] == PROTOCOL and call["loop"] == "auto"


async def _empty_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _no_delay_of_served_connection(http: str) -> int:
    """Serve one keep-alive request on a socket bound as uvicorn binds it for `--workers N`,
    and read TCP_NODELAY off the server's side of the connection."""
    config = uvicorn.Config(
        _empty_app, host="127.0.0.1", port=0, http=http, loop="asyncio", lifespan="off"
    )
    sock = config.bind_socket()  # what uvicorn.run does with workers > 1: protocol number 0
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = sock.getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/").text == "ok"
            (connection,) = server.server_state.connections
            served = connection.transport.get_extra_info("socket")  # type: ignore[attr-defined]
            return int(served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_served_connections_have_nagle_off() -> None:
    """Without it each response waited ~40 ms for the client's delayed ACK (`GET /health`
    p50 44 ms through `serve --workers 2`, 1.4 ms with it)."""
    assert _no_delay_of_served_connection("h11") == 0  # uvicorn's own protocol: Nagle on
    assert _no_delay_of_served_connection(PROTOCOL) != 0
