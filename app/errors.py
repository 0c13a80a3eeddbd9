"""One table from domain errors to HTTP statuses, rendered as RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import Conflict, DomainError, InvalidInput, LimitExceeded, NotFound

log = logging.getLogger("hourglass")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://hourglass.example/problems/"

# Most specific first: the first class the error is an instance of decides the status.
STATUS_BY_ERROR: list[tuple[type[DomainError], int, str]] = [
    (NotFound, 404, "not-found"),
    (LimitExceeded, 409, "limit-exceeded"),
    (Conflict, 409, "conflict"),
    (InvalidInput, 422, "invalid-input"),
    (DomainError, 400, "bad-request"),
]


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        for error_class, status, slug in STATUS_BY_ERROR:
            if isinstance(exc, error_class):
                extra: dict[str, Any] = {}
                listed = exc.errors if isinstance(exc, InvalidInput) else []
                if listed:
                    extra["errors"] = [{"field": f, "message": m} for f, m in listed]
                elif exc.field:
                    extra["errors"] = [{"field": exc.field, "message": exc.detail}]
                detail = exc.detail
                if exc.field and not detail.startswith(exc.field):
                    detail = f"{exc.field}: {exc.detail}"
                return problem(
                    status,
                    detail,
                    title=exc.title,
                    slug=slug,
                    instance=request.url.path,
                    **extra,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": "body", "message": _json_error(err, exc.body)}
            if err.get("type") == "json_invalid"
            else {"field": _field_of(err.get("loc", ())), "message": _message(err)}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return problem(
            422,
            detail,
            title="Invalid input",
            slug="invalid-input",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = allowed_methods(request.app, request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=headers or None,
        )

    @app.exception_handler(sa_exc.DataError)
    async def _out_of_range(request: Request, exc: sa_exc.DataError) -> JSONResponse:
        # The request was rolled back: a number beyond a column's range, for instance.
        return problem(
            422,
            "a value is outside the range this field can hold",
            title="Invalid input",
            slug="invalid-input",
            instance=request.url.path,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return await _out_of_range(request, sa_exc.DataError(None, None, exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(getattr(exc, "orig", None), OverflowError) or isinstance(
            exc.__cause__, OverflowError
        ):
            return await _out_of_range(request, sa_exc.DataError(None, None, exc))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "an unexpected error occurred; nothing was changed")


def clean_message(message: str) -> str:
    """Pydantic prefixes messages raised by our validators with "Value error, " (and
    assertions with "Assertion failed, "): the reader needs neither."""
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _message(err: Any) -> str:
    return clean_message(str(err.get("msg", "invalid")))


def _json_error(err: Any, document: Any) -> str:
    """Where the JSON broke, as line and column (FastAPI gives a character offset)."""
    reason = str((err.get("ctx") or {}).get("error") or "malformed")
    loc = err.get("loc", ())
    position = loc[-1] if loc and isinstance(loc[-1], int) else None
    if position is None or not isinstance(document, str | bytes):
        return f"the body is not valid JSON: {reason}"
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"the body is not valid JSON at line {line}, column {column}: {reason}"


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of the application answers on `path` (for a 405's Allow)."""
    table = getattr(app.state, "allowed_methods_table", None)
    if table is None:
        table = []
        for template, item in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            methods = {m.upper() for m in item if m.upper() in _METHOD_ORDER}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((re.compile(f"^{pattern}$"), methods))
        app.state.allowed_methods_table = table
    found: set[str] = set()
    for regex, methods in table:
        if regex.match(path):
            found |= methods
    return [m for m in _METHOD_ORDER if m in found]
