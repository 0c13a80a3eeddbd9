"""A private localstripe server per test session, on a free loopback port.

Tests talk to a real Stripe-compatible server rather than mocks (SPEC: "Payments (Stripe)"), and
several test processes may run at once, so each gets its own server, its own port and its own
in-memory state.

Import the fixture into a test module (or a conftest) to use it:
`from tests.support.localstripe_server import localstripe_url  # noqa: F401`
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import pytest

# localstripe pickles its whole store to the fixed path /tmp/localstripe.pickle after every write
# (and loads it at start unless --from-scratch). Concurrent servers would share and clobber that
# file, and one left by another user would make every write fail, so the launcher turns it off:
# each server keeps its state in memory and forgets it when stopped.
_LAUNCHER = """
import sys
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None
sys.argv[0] = "localstripe"
server.start()
"""

_PROBE_API_KEY = "sk_test_hourglass_probe"
_START_ATTEMPTS = 3  # another process may grab the port between our probe and the server's bind


class LocalStripeError(RuntimeError):
    """localstripe did not start; the message carries its output."""


class LocalStripe:
    """A running localstripe subprocess; `url` is the api_base to give the Stripe client."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self._log = log

    def output(self) -> str:
        """What the server printed so far (startup banner, access log, tracebacks)."""
        # pread leaves the file offset alone: the server shares it and keeps writing there.
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


def free_loopback_port() -> int:
    """A port nothing listens on right now (the kernel's pick for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_localstripe(*, startup_timeout_seconds: float = 20.0) -> LocalStripe:
    """Start localstripe and return once it answers API requests."""
    last_error: LocalStripeError | None = None
    for _ in range(_START_ATTEMPTS):
        server = _spawn(free_loopback_port())
        try:
            _wait_until_answering(server, startup_timeout_seconds)
        except LocalStripeError as error:
            server.stop()
            last_error = error
            if "Address already in use" not in str(error):
                raise
            continue
        return server
    assert last_error is not None
    raise last_error


@contextmanager
def running_localstripe(*, startup_timeout_seconds: float = 20.0) -> Iterator[str]:
    """The URL of a fresh localstripe for the duration of the block."""
    server = start_localstripe(startup_timeout_seconds=startup_timeout_seconds)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """Base URL ("http://127.0.0.1:PORT") of a localstripe shared by the whole test session.

    State accumulates across tests, so each test makes its own customers and looks only at them.
    """
    with running_localstripe() as url:
        yield url


def _spawn(port: int) -> LocalStripe:
    # A file, not a pipe, for the output: localstripe logs every request, and an unread pipe
    # would fill up and freeze the server mid-test.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by LocalStripe.stop()
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, "--port", str(port), "--from-scratch"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # so the "Running on" banner shows at once
    )
    return LocalStripe(port, process, log)


def _wait_until_answering(server: LocalStripe, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    request = urllib.request.Request(
        f"{server.url}/v1/customers?limit=1",
        headers={"Authorization": f"Bearer {_PROBE_API_KEY}"},
    )
    while True:
        if server.process.poll() is not None:
            raise LocalStripeError(
                f"localstripe exited with code {server.process.returncode} before answering:\n"
                f"{server.output()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                body = json.loads(response.read())
        except (OSError, ValueError):
            body = None  # not listening yet (URLError is an OSError)
        # The banner proves the port is bound by our process, not by a server that took the
        # port between our probe and localstripe's bind (ours would then exit, in use).
        answered = isinstance(body, dict) and body.get("object") == "list"
        if answered and "Running on" in server.output():
            return
        if time.monotonic() > deadline:
            raise LocalStripeError(
                f"localstripe did not answer on {server.url} within {timeout_seconds} s:\n"
                f"{server.output()[-4000:]}"
            )
        time.sleep(0.05)
