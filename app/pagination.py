"""Cursor pagination: an opaque cursor that encodes the last id of the page."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from ledger.errors import InvalidInput

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class PageParams:
    def __init__(
        self,
        limit: int = Query(50, ge=1, le=200, description="items per page"),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> None:
        self.limit = limit
        self.after_id = decode_cursor(cursor)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        kind, _, value = text.partition(":")
        last_id = int(value)
        if kind != "id" or not 0 <= last_id < 2**63:
            raise ValueError
        return last_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("not a cursor returned by this API", field="cursor") from exc


def make_page(
    rows: Sequence[T], params: PageParams, convert: Callable[[T], R], id_of: Callable[[T], int]
) -> Page[R]:
    """`rows` was fetched with limit + 1, so a full page knows whether another follows."""
    has_more = len(rows) > params.limit
    shown = rows[: params.limit]
    return Page[R](
        items=[convert(row) for row in shown],
        next_cursor=encode_cursor(id_of(shown[-1])) if has_more and shown else None,
    )
