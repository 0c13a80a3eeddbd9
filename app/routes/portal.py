"""`GET /portal`: the customers' web portal (static files; every figure comes from the API)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["portal"], include_in_schema=False)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ASSETS = {"portal.js": "text/javascript", "portal.css": "text/css"}


def _read(name: str) -> str:
    return resources.files("app.portal").joinpath(name).read_text(encoding="utf-8")


@router.get("/portal", response_class=HTMLResponse)
def portal() -> HTMLResponse:
    return HTMLResponse(_read("index.html"), headers=SECURITY_HEADERS)


@router.get("/portal/{asset}")
def portal_asset(asset: str) -> Response:
    if asset not in ASSETS:
        return Response(status_code=404)
    return Response(_read(asset), media_type=ASSETS[asset], headers=SECURITY_HEADERS)
