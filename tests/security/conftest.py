"""Fixtures for the security checks: the real app with every channel on (tests/hostile/app_support.py), on
the embedded default (in-process counters and inbox) and on Redis (a key prefix of the test's own; only
those keys are deleted afterwards)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis
from argon2 import PasswordHasher

from storage.repo import staff as repo_staff
from tests.hostile.app_support import LiveApp, live_app

REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="package", autouse=True)
def light_argon2() -> Iterator[None]:
    original = repo_staff._hasher
    repo_staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    repo_staff._hasher = original


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    prefix = f"jbsec{secrets.token_hex(5)}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app on the in-process store, then on Redis; one per module (building it is the slow part), so
    tests use chats, NIKs and update ids of their own."""
    overrides: dict[str, object] = {}
    if request.param == "redis":
        overrides = {"REDIS_URL": REDIS_URL, "REDIS_PREFIX": request.getfixturevalue("redis_prefix")}
    with live_app(tmp_path_factory.mktemp("security"), **overrides) as live:
        yield live
