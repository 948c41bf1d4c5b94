"""The real PostgreSQL and Redis for the browser test, shared with other developers' runs: a database of
this run's own (created, migrated, dropped), and a Redis key prefix of its own (only keys under it, and
arq's keys for its jobs, are deleted at the end)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from bot.broadcast.keys import Keys
from tests.realdeps import REDIS_URL, postgres_database

__all__ = ["postgres_database", "redis_prefix"]


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
