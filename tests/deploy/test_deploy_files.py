"""The files of `deploy/` are valid where the tools exist (systemd-analyze, nginx), and
docs/deploy.md lists every `HOURGLASS_*` setting the code reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.invoices.billing.helpers import HOURGLASS

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/hourglass/.venv/bin/hourglass"


def test_the_guide_lists_every_setting() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    read = set()
    for source in (ROOT / "app").rglob("*.py"):
        read |= set(re.findall(r"HOURGLASS_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])", source.read_text()))
    example = set(
        re.findall(
            r"^(HOURGLASS_[A-Z0-9_]+)=",
            (ROOT / "deploy" / "hourglass.env.example").read_text(),
            re.M,
        )
    )
    assert read, "no settings found"
    missing = sorted(name for name in read | example if f"`{name}`" not in guide)
    assert not missing, f"docs/deploy.md does not document {missing}"


def test_unit_files_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    assert [u.name for u in UNITS] == ["hourglass-api.service", "hourglass-worker.service"]
    for unit in UNITS:
        text = unit.read_text()
        assert INSTALLED in text
        # The unit as installed, with the command where this checkout installed it.
        (tmp_path / unit.name).write_text(text.replace(INSTALLED, str(HOURGLASS)))
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "hourglass" not in result.stderr, result.stderr  # no warning about our units
    broken = tmp_path / "broken.service"
    broken.write_text(UNITS[0].read_text())  # the path that only exists once installed
    if not Path(INSTALLED).exists():
        assert (
            subprocess.run(
                ["systemd-analyze", "verify", str(broken)], capture_output=True
            ).returncode
            != 0
        )


def nginx_config(tmp_path: Path, *, listen: int, upstream: int) -> Path:
    """deploy/nginx/hourglass.conf inside a minimal nginx.conf, on test ports."""
    site = (ROOT / "deploy" / "nginx" / "hourglass.conf").read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    (tmp_path / "logs").mkdir(exist_ok=True)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
        "events {}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/body;\n"
        f" proxy_temp_path {tmp_path}/proxy;\n{site}\n}}\n"
    )
    return main


def test_nginx_config_is_valid(tmp_path: Path) -> None:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    config = nginx_config(tmp_path, listen=18080, upstream=18000)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
