"""The PostgreSQL pool pings a connection that sat idle before handing it out, so a server restart or a
dropped link between turns costs no user a failed turn; a connection in steady use is not pinged."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

from storage import db as dbmod
from tests.realdeps import postgres_database


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    with postgres_database("jb_pool") as url:
        engine = dbmod.make_engine(url, pool_size=2)
        yield engine
        engine.dispose()


def _kill_pooled_connections(engine: Engine) -> None:
    """What a PostgreSQL restart does to the pool: every server process of this database ends."""
    dsn = make_url(engine.url).set(drivername="postgresql", database="test").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (engine.url.database,),
        )


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    _kill_pooled_connections(pg_engine)
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle "long enough"
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT 2")).scalar() == 2


def test_a_connection_in_steady_use_is_not_pinged(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 3600.0)
    with pg_engine.connect() as conn:  # a new connection: never idle, nothing to ping
        conn.execute(text("SELECT 1"))
    pings: list[object] = []
    monkeypatch.setattr(pg_engine.dialect, "do_ping", lambda c: pings.append(c) or True)
    for _ in range(3):
        with pg_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 0.0)
    with pg_engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert len(pings) == 1
