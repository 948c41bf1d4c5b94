"""Fixtures for the channel tests: the local Bot API server, the real Redis (own key prefix per test, only
our keys deleted), update factories, and a guard that fails any test reaching the real api.telegram.org."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis

from tests.channels.telegram_factories import Updates
from tests.fakes.telegram_api import FakeTelegramAPI

REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
FORBIDDEN_HOSTS = {"api.telegram.org"}


class RealTelegramCalled(RuntimeError):
    """A test tried to reach the real Telegram."""


@pytest.fixture(autouse=True)
def no_real_telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every name lookup of api.telegram.org raises, and the test fails at teardown even if the code under
    test swallowed the error."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host in FORBIDDEN_HOSTS:
            attempts.append(host)
            raise RealTelegramCalled(f"test tried to reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield attempts
    assert not attempts, f"the real Telegram API was called: {attempts}"


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def updates() -> Updates:
    return Updates()


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards (never FLUSHDB: Redis is shared)."""
    prefix = f"jbtest:{secrets.token_hex(6)}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


async def eventually(
    predicate: Callable[[], bool], *, timeout: float = 15.0, what: str = "condition"
) -> None:
    """Wait until `predicate()` holds; fail after `timeout` seconds (a deadline for a hang, not a speed
    requirement: the happy path returns as soon as the condition holds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def aclosing() -> AsyncIterator[list[Any]]:
    """Objects with `aclose()` registered here are closed after the test."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        await item.aclose()


async def eventually_async(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, what: str = "condition"
) -> None:
    """`eventually` for a predicate that must be awaited."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
