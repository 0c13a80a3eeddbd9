"""A billing run's chunk is 500 contracts unless `HOURGLASS_BILLING_CHUNK_SIZE` says otherwise
(issue #12: a fifth less time issuing than 200 on one PostgreSQL worker, bench/README.md)."""

from __future__ import annotations

import pytest

from app.settings import Settings, load_settings
from invoices.runs import flows
from invoices.runs.chunks import DEFAULT_CHUNK, work_chunk


def test_the_default_chunk_is_the_same_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOURGLASS_BILLING_CHUNK_SIZE", raising=False)
    assert DEFAULT_CHUNK == 500
    assert Settings().billing_chunk_size == DEFAULT_CHUNK
    assert load_settings().billing_chunk_size == DEFAULT_CHUNK
    assert flows.Biller.__dataclass_fields__["chunk_size"].default == DEFAULT_CHUNK
    assert work_chunk.__kwdefaults__["size"] == DEFAULT_CHUNK
    monkeypatch.setenv("HOURGLASS_BILLING_CHUNK_SIZE", "7")
    assert load_settings().billing_chunk_size == 7
