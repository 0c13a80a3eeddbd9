"""The OpenAPI document and its pages: the bearer scheme, problem+json errors, the
`Idempotency-Key` header on every write, and `/docs` and `/redoc` served offline.

The Swagger UI and ReDoc assets come from the `fastapi-offline` package and are served by the
service itself (`/docs/assets/…`), so the pages work with no request to any other host.
`swagger-ui-bundle` was the other candidate: its Swagger UI is 4.15 (2022), which cannot render
the OpenAPI 3.1 documents FastAPI writes; fastapi-offline ships Swagger UI 5 and ReDoc, and only
the files the pages load.
"""

from __future__ import annotations

import importlib.resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.errors import PROBLEM_JSON
from app.idempotency.claims import HEADER, MAX_KEY_LENGTH, WRITE_METHODS

ASSETS = "/docs/assets"
BEARER = "bearer"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "description": "the HTTP status"},
        "detail": {"type": "string", "description": "what went wrong, for a person"},
        "instance": {"type": "string", "description": "the path of the request"},
        "errors": {
            "type": "array",
            "description": "one entry per offending field",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_DESCRIPTIONS = {
    "400": "Bad request",
    "401": "No valid bearer token (missing, unknown or revoked)",
    "403": "The token's role may not do this",
    "404": "Not found (or not visible to this token)",
    "409": "Conflict with the current state, or an Idempotency-Key reused or in flight",
    "422": "Invalid input: nothing was written",
    "503": "A service this request needs is unavailable",
}


def _problem(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _document_operation(path, method.upper(), operation)
    return document


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    secured = bool(operation.get("security"))
    statuses = {"422"} if operation.get("parameters") or "requestBody" in operation else set()
    if secured:
        statuses |= {"401", "403"}
    if "{" in path:
        statuses.add("404")
    if method in WRITE_METHODS:
        statuses |= {"409", "422"}
    if path == "/v1/stripe/webhook":
        statuses |= {"400", "503"}
    if path.endswith("/payment-method"):
        statuses |= {"503"}
    declared = {status for status in responses if status.startswith(("4", "5"))}
    for status in sorted(statuses | declared):
        described = responses.get(status, {}).get("description")
        responses[status] = _problem(status)
        if described:
            responses[status]["description"] = described
    if secured and method in WRITE_METHODS:
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == HEADER for p in parameters):
            parameters.append(
                {
                    "name": HEADER,
                    "in": "header",
                    "required": False,
                    "description": (
                        "repeat the request safely: the same key (per token) and body give the "
                        "first result again, with `Idempotent-Replayed: true`; another body, or "
                        "the first still in flight, 409"
                    ),
                    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
                }
            )


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's document and pages (create the app with docs_url=redoc_url=None)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    static = importlib.resources.files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            # no badge fetched from validator.swagger.io; the token survives a reload
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
