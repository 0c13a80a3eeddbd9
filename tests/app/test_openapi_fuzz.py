"""The OpenAPI document, and a small deterministic fuzz of every operation it lists.

The fuzz checks the contract every response must keep, whatever the input and whoever asks (a
finance token and a customer token): no server error; an error is an RFC 9457 problem+json whose
`status` is the HTTP status; every response (success or error) has a status the document lists
and matches the schema it promises there; no message carries pydantic's "Value error, " prefix.
Hypothesis is derandomized, so a given code base always runs the same cases. It runs on a SQLite
database of its own (once, not per engine) to stay fast; Stripe is a local localstripe server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance, status_code_conformance
from schemathesis.core import NOT_SET
from sqlalchemy.orm import Session

from app.auth.tokens import Role, create_token
from app.db import make_engine
from app.errors import PROBLEM_JSON
from app.main import create_app
from app.migrations import upgrade
from app.settings import Settings
from tests.factories import create_contract, create_customer, create_plan
from tests.invoices.payments.helpers import API_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET
from tests.support.localstripe_server import localstripe_url  # noqa: F401

EXAMPLES = 5  # per operation and token: the whole document runs in well under a minute


Api = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, localstripe_url: str) -> Iterator[Api]:  # noqa: F811
    """An app on a migrated SQLite file, a finance and a customer token, a little data to hit."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        _, finance = create_token(session, role=Role.FINANCE, name="fuzz")
        customer = create_customer(session)
        plan = create_plan(session, code="fuzz")
        create_contract(session, customer=customer, plan=plan)
        _, mine = create_token(session, role=Role.CUSTOMER, customer_id=customer.id, name="fuzz")
        session.commit()
    settings = Settings(
        database_url=url,
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_publishable_key=PUBLISHABLE_KEY,
    )
    app = create_app(settings, engine=engine)
    tokens = {
        "finance": {"Authorization": f"Bearer {finance}"},
        "customer": {"Authorization": f"Bearer {mine}"},
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, tokens
    engine.dispose()


def _document() -> dict[str, Any]:
    return dict(
        TestClient(create_app(Settings(database_url="sqlite://"))).get("/openapi.json").json()
    )


DOCUMENT = _document()
OPERATIONS = sorted(
    (path, method.upper())
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict) and "responses" in operation
)


@pytest.fixture(scope="module")
def document(api: Api) -> dict[str, Any]:
    client, _ = api
    response = client.get("/openapi.json")  # public, like /health
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def schema(document: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(document)


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


@pytest.mark.parametrize("who", ["finance", "customer"])
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_every_response_keeps_the_contract(
    api: Api, schema: Any, path: str, method: str, who: str
) -> None:
    client, tokens = api
    operation = schema[path][method]

    @settings(
        max_examples=EXAMPLES,
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
            headers={**(case.headers or {}), **tokens[who]},
        )
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        assert "Value error," not in response.text, response.text
        case.validate_response(
            response, checks=[status_code_conformance, response_schema_conformance]
        )
        if response.status_code >= 400:
            assert response.headers["content-type"] == PROBLEM_JSON, response.text
            problem = response.json()
            assert problem["status"] == response.status_code
            assert problem["title"]
            assert isinstance(problem["detail"], str)
            assert problem["detail"]

    check()
