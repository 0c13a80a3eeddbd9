"""A real HTTP receiver on loopback that answers from a script: fail, hang, then accept."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Each request takes the next scripted answer: an int status, `("sleep", seconds)` (then
    200), or `("drip", seconds)` (a 200 sent a byte every `seconds`); when the script is empty
    it answers `default`."""

    def __init__(self, *script: Any, default: int = 200) -> None:
        self.script: deque[Any] = deque(script)
        self.default = default
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Request(self.path, {k: v for k, v in self.headers.items()}, body)
                    )
                    step = receiver.script.popleft() if receiver.script else receiver.default
                status = step
                if isinstance(step, tuple) and step[0] == "drip":
                    try:  # the status line a byte at a time, each byte well within a timeout
                        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(step[1])
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    status = 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
