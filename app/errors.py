"""One table from domain errors to HTTP statuses, rendered as RFC 9457 problem+json."""

from __future__ import annotations

import logging
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
            {"field": _field_of(err.get("loc", ())), "message": _message(err)}
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
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
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


def _message(err: Any) -> str:
    message = str(err.get("msg", "invalid"))
    # Pydantic prefixes messages raised by our validators with "Value error, ".
    return message.removeprefix("Value error, ")
