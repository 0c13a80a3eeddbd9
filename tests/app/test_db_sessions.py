"""What every PostgreSQL session of the service asks of the server (app.db.make_engine)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.mark.postgres_only
def test_sessions_keep_alive_and_skip_the_jit(connection: sa.Connection) -> None:
    # Keepalives free a vanished worker's chunk within 25 s; the JIT only slowed our queries.
    setting = lambda name: connection.exec_driver_sql(f"SHOW {name}").scalar()  # noqa: E731
    assert setting("jit") == "off"
    assert (setting("tcp_keepalives_idle"), setting("tcp_keepalives_count")) == ("10", "3")
