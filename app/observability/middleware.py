"""One ASGI middleware per request: its `X-Request-Id`, its log line, its metrics.

The request id is taken from the request's `X-Request-Id` when it is a sane token (so a proxy's
id follows the request through), made up otherwise, and returned on the response. The log line
carries the path without its query string: a query may hold what must never be logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import request_id_var
from app.observability.metrics import UNMATCHED_ROUTE, observe_request

log = logging.getLogger("hourglass.http")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _SANE_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The route template (`/v1/contracts/{contract_id}`), never the raw path."""
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE


class RequestObservation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            method = scope.get("method", "")
            observe_request(method=method, route=route, status=status, seconds=seconds)
            level = logging.ERROR if status >= 500 else logging.INFO
            log.log(
                level,
                "%s %s %s",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            request_id_var.reset(token)


def observe_requests(app: FastAPI) -> None:
    """Wrap the whole middleware stack, Starlette's error middleware included, so that an
    unhandled error's 500 also carries the request id and is counted and logged as a 500."""
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        return RequestObservation(build())

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]
