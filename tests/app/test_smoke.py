from fastapi.testclient import TestClient


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_engine_kind(engine, db_kind) -> None:  # type: ignore[no-untyped-def]
    assert engine.dialect.name == db_kind
