"""The OpenAPI document declares the bearer scheme and problem+json errors; `/docs` and `/redoc`
work offline: every asset they load is served by the service itself."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

WRITES = {"post", "put", "patch", "delete"}


def _client() -> TestClient:
    return TestClient(create_app(Settings(database_url="sqlite://")))


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def test_the_bearer_scheme_is_declared_and_required_on_the_api() -> None:
    document = _client().get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an Hourglass API token (`hourglass token create`)",
    }
    for path, method, operation in _operations(document):
        if path.startswith("/v1/") and path != "/v1/stripe/webhook":
            assert operation.get("security") == [{"bearer": []}], (method, path)


def test_errors_are_documented_as_problem_json() -> None:
    document = _client().get("/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        expected = set()
        if operation.get("security"):
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if method in WRITES:
            expected |= {"409", "422"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"] == {"application/problem+json": {"schema": ref}}
        if method in WRITES and operation.get("security"):
            names = [p["name"] for p in operation.get("parameters", [])]
            assert "Idempotency-Key" in names, (method, path)


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""url:\s*['"]([^'"]+)['"]""", html
    )


def test_docs_and_redoc_load_nothing_from_another_host() -> None:
    client = _client()
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE), page
        urls = _asset_urls(html) + re.findall(r'spec-url="([^"]+)"', html)
        assert any(u.endswith(".js") for u in urls), (page, urls)
        for url in urls:
            assert url.startswith("/"), url
            asset = client.get(url)
            assert asset.status_code == 200, (page, url)
            assert asset.content, url
