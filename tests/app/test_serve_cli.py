"""`hourglass --version` and `hourglass serve --workers N`: migrations once in the parent, a
worker health-check timeout a loaded machine can meet, shared HTTP metrics across workers."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from app import cli
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
