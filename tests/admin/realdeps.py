"""The real PostgreSQL and Redis for the browser test, shared with other developers' runs: a database of
this run's own (created, migrated, dropped), and a Redis key prefix of its own (only keys under it, and
arq's keys for its jobs, are deleted at the end)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from bot.broadcast.keys import Keys
from storage.schema import upgrade

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a fresh database at the current schema; dropped afterwards."""
    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"jb_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A REDIS_PREFIX of this run's own; its keys are deleted afterwards (never FLUSHDB)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    prefix = f"jbt{secrets.token_hex(5)}:"
    try:
        yield prefix
    finally:
        for pattern in [f"{prefix}*", *Keys(prefix).arq_patterns()]:
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()
