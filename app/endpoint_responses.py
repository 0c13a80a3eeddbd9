"""Endpoints build their own JSON response, in the thread they run in.

FastAPI validates and serialises a sync endpoint's return value against its response model in a
second trip to the thread pool after the endpoint returns. Each route's endpoint is wrapped
(`wrap_routes`) to do the same validation and the same serialisation (`respond`, FastAPI's own
steps) before it returns, so FastAPI receives a finished `Response` and sends it as it is: the
bytes, status and headers are those FastAPI would have sent, one thread hop fewer (issue #12).

A keyed write stores that response with its idempotency claim (`app.idempotency.claims`),
in the request's transaction, through the `finished` hook.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code

Finished = Callable[[Response], None]
"""Called with each response an endpoint built (the idempotency claim stores it)."""

_WRAPPED = "__hourglass_responds__"


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also those of included routers (kept as branches by FastAPI)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from api_routes(original.routes)


def wrap_routes(app: FastAPI, finished: Finished) -> None:
    for route in api_routes(list(app.router.routes)):
        ensure_wrapped(route, finished)


def ensure_wrapped(route: APIRoute, finished: Finished) -> None:
    """Replace the route's endpoint (and its dependant's call) by one that returns a finished
    Response, once per route and before any request: FastAPI builds each inclusion's handler
    from `route.endpoint` on first use. Streaming endpoints are left as they are."""
    call = route.endpoint
    if getattr(call, _WRAPPED, False):
        return
    if inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call):
        return
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(call):

        async def async_wrapper(**kwargs: Any) -> Any:
            return respond(route, await call(**kwargs), kwargs, finished)

        wrapper = async_wrapper
    else:

        def sync_wrapper(**kwargs: Any) -> Any:
            return respond(route, call(**kwargs), kwargs, finished)

        wrapper = sync_wrapper
    functools.update_wrapper(wrapper, call)
    setattr(wrapper, _WRAPPED, True)
    route.endpoint = wrapper
    route.dependant.call = wrapper


def respond(route: APIRoute, result: Any, kwargs: dict[str, Any], finished: Finished) -> Any:
    """The Response FastAPI would build from `result` (the same bytes, status and headers)."""
    if isinstance(result, StreamingResponse):
        return result
    if isinstance(result, Response):
        finished(result)
        return result
    sub_response = (
        kwargs.get(route.dependant.response_param_name)
        if route.dependant.response_param_name
        else None
    )
    status = (getattr(sub_response, "status_code", None) or route.status_code) or 200
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        if route.response_field is not None:  # FastAPI's fast path: pydantic's dump_json
            content = _serialise(route, result)
            response = Response(content, status_code=status, media_type="application/json")
        else:
            response = JSONResponse(jsonable_encoder(result), status_code=status)
    else:
        response = response_class(_encoded(route, result), status_code=status)
    if not is_body_allowed_for_status_code(status):
        response = Response(status_code=status)  # no body, so no content type either
    if isinstance(sub_response, Response):
        response.headers.raw.extend(
            (k, v) for k, v in sub_response.headers.raw if k.lower() != b"content-length"
        )
    finished(response)
    return response


def _encoded(route: APIRoute, result: Any) -> Any:
    """FastAPI's `serialize_response` for a route with its own response class."""
    if route.response_field is None:
        return jsonable_encoder(result)
    return route.response_field.serialize(_validated(route, result), **_dump_options(route))


def _serialise(route: APIRoute, result: Any) -> bytes:
    """FastAPI's `serialize_response` with `dump_json`: JSON bytes from pydantic's core."""
    assert route.response_field is not None
    return route.response_field.serialize_json(_validated(route, result), **_dump_options(route))


def _validated(route: APIRoute, result: Any) -> Any:
    assert route.response_field is not None
    value, errors = route.response_field.validate(result, {}, loc=("response",))
    if errors:
        raise ResponseValidationError(errors=errors, body=result)
    return value


def _dump_options(route: APIRoute) -> dict[str, Any]:
    return {
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
    }
