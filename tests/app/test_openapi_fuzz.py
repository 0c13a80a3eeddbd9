"""The OpenAPI document, and a small deterministic fuzz of the foundation's write operations.

The fuzz checks the contract every response must keep, whatever the input: an error is an
RFC 9457 problem+json whose `status` is the HTTP status, and a success matches the schema the
document promises. Hypothesis is derandomized, so a given code base always runs the same cases.
It runs on a SQLite database of its own (once, not per engine) to stay fast. Server errors it can
provoke are tracked as explicit xfail tests in the API test modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance
from schemathesis.core import NOT_SET
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token
from app.db import make_engine
from app.errors import PROBLEM_JSON
from app.main import create_app
from app.migrations import upgrade
from app.settings import Settings
from tests.factories import create_customer, create_plan

FUZZED = [
    ("/v1/plans", "POST"),
    ("/v1/customers", "POST"),
    ("/v1/contracts", "POST"),
    ("/v1/customers/{customer_id}", "PATCH"),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app on a migrated SQLite file, with a finance token and a little data to hit."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        _, token = create_token(session, role=Role.FINANCE, name="fuzz")
        create_customer(session)
        create_plan(session, code="fuzz")
        session.commit()
    app = create_app(Settings(database_url=url), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}
    engine.dispose()


@pytest.fixture(scope="module")
def document(api: tuple[TestClient, dict[str, str]]) -> dict[str, Any]:
    client, _ = api
    response = client.get("/openapi.json")  # public, like /health
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def schema(document: dict[str, Any]) -> Any:
    """Only the fuzzed paths: the whole document takes seconds to load."""
    fuzzed = {path for path, _ in FUZZED}
    paths = {path: item for path, item in document["paths"].items() if path in fuzzed}
    return schemathesis.openapi.from_dict({**document, "paths": paths})


def test_openapi_lists_the_foundation_paths(document: dict[str, Any]) -> None:
    assert document["info"]["title"] == "Hourglass"
    paths = document["paths"]
    for path in ("/v1/plans", "/v1/customers", "/v1/contracts"):
        assert {"get", "post"} <= set(paths[path]), path
    assert {"get", "patch"} <= set(paths["/v1/plans/{code}"])
    assert {"get", "patch"} <= set(paths["/v1/customers/{customer_id}"])
    assert "get" in paths["/v1/contracts/{contract_id}"]
    assert "post" in paths["/v1/contracts/{contract_id}/cancel"]
    assert "/health" in paths


def test_openapi_documents_money_as_strings_and_pages(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    plan = schemas["PlanRead"]["properties"]
    for field in ("fee", "overage_rate", "on_demand_rate"):
        assert plan[field]["type"] == "string", field
    assert plan["included_minutes"]["type"] == "integer"
    parameters = {p["name"] for p in document["paths"]["/v1/contracts"]["get"]["parameters"]}
    assert {"limit", "cursor", "customer_id"} <= parameters


@pytest.mark.parametrize(("path", "method"), FUZZED, ids=[f"{m} {p}" for p, m in FUZZED])
def test_every_response_keeps_the_contract(
    api: tuple[TestClient, dict[str, str]], schema: Any, path: str, method: str
) -> None:
    client, headers = api
    operation = schema[path][method]

    @settings(
        max_examples=10,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = client.request(
            case.method,
            case.formatted_path,
            params=case.query or None,
            json=None if case.body is NOT_SET else case.body,
            headers=headers,
        )
        if response.status_code >= 400:
            assert response.headers["content-type"] == PROBLEM_JSON, response.text
            problem = response.json()
            assert problem["status"] == response.status_code
            assert problem["title"]
            assert isinstance(problem["detail"], str)
            assert problem["detail"]
        else:
            case.validate_response(response, checks=[response_schema_conformance])

    check()
