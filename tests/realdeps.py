"""The real PostgreSQL and Redis the tests use (shared/design.md): one way to get a database of one's own.

Tests share the machine's PostgreSQL with other test runs, so each session or module creates a database
with a random name, migrates it to the current schema and drops it afterwards. An unreachable server is a
failure, not a skip: `.ci/run` starts the services, and a test that needs them must not pass without them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from storage.schema import upgrade

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


@contextmanager
def postgres_database(prefix: str = "jb") -> Iterator[str]:
    """The SQLAlchemy URL of a fresh database at the current schema; dropped (forcibly) afterwards."""
    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as admin:
        name = f"{prefix}_{secrets.token_hex(6)}"
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
