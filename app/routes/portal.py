"""`GET /portal`: the customers' web portal (static files; every figure comes from the API).

The page is rendered with the issuer's name as its brand and, when card payments are set up
(`HOURGLASS_STRIPE_API_KEY` and `HOURGLASS_STRIPE_PUBLISHABLE_KEY`), a `<script>` for Stripe.js
from `HOURGLASS_STRIPE_JS_URL`. Its Content-Security-Policy lets the browser load and call
nothing but this service and that Stripe.js origin (plus Stripe's API and 3-D Secure frames when
it is the real js.stripe.com).
"""

from __future__ import annotations

from html import escape
from importlib import resources
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.settings import Settings

router = APIRouter(tags=["portal"], include_in_schema=False)

ASSETS = {"portal.js": "text/javascript", "portal.css": "text/css"}
REAL_STRIPE_JS = "https://js.stripe.com"
# What the real Stripe.js calls and frames besides its own origin.
REAL_STRIPE_CONNECT = ("https://api.stripe.com",)
REAL_STRIPE_FRAMES = ("https://hooks.stripe.com",)


def _read(name: str) -> str:
    return resources.files("app.portal").joinpath(name).read_text(encoding="utf-8")


def stripe_js_url(settings: Settings) -> str | None:
    """Where the page loads Stripe.js from; None when the portal takes no cards."""
    if not (settings.stripe_api_key and settings.stripe_publishable_key):
        return None
    return settings.stripe_js_url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(settings: Settings) -> dict[str, str]:
    script, connect, frame = ["'self'"], ["'self'"], ["'none'"]
    js_url = stripe_js_url(settings)
    if js_url:
        origin = _origin(js_url)
        script.append(origin)
        connect.append(origin)
        frame = [origin]
        if origin == REAL_STRIPE_JS:
            connect.extend(REAL_STRIPE_CONNECT)
            frame.extend(REAL_STRIPE_FRAMES)
    policy = "; ".join(
        (
            "default-src 'self'",
            f"script-src {' '.join(script)}",
            f"connect-src {' '.join(connect)}",
            f"frame-src {' '.join(frame)}",
            "img-src 'self' data:",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@router.get("/portal", response_class=HTMLResponse)
def portal(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    js_url = stripe_js_url(settings)
    stripe_script = f'<script src="{escape(js_url)}"></script>' if js_url else ""
    page = (
        _read("index.html")
        .replace("{{brand}}", escape(settings.issuer.name))
        .replace("{{stripe_script}}", stripe_script)
    )
    return HTMLResponse(page, headers=security_headers(settings))


@router.get("/portal/{asset}")
def portal_asset(asset: str, request: Request) -> Response:
    if asset not in ASSETS:
        return Response(status_code=404)
    return Response(
        _read(asset), media_type=ASSETS[asset], headers=security_headers(request.app.state.settings)
    )
