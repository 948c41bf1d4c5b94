"""The membership HTTP backend (the agency's core system) failing, slow, and hung, behind the real HTTP
client of the bot (timeouts, retries with the same idempotency key, circuit breaker).

The core system is the project's own membership API (storage/membership/api.py) over its own database,
wrapped in `Flaky` (tests/storage/membership_support.py) to fail or dawdle on command, served on a port
behind a TcpProxy. The bot runs on SQLite and in-process sessions: only the membership backend is at fault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from storage.db import Database
from storage.membership.sql import SqlMembershipBackend
from tests.faults.proxy import TcpProxy
from tests.faults.support import (
    Person,
    RestUser,
    fault_settings,
    long_mode,
    note_recovery,
    receipts,
    registration_numbers,
    running,
    until,
)
from tests.storage.membership_support import TOKEN, Flaky, serve, sqlite_database

DOWN = "sistem pendaftaran sedang gangguan"  # flows/content/registration.yml: backend_down
STATUS_DOWN = "layanan cek status sedang gangguan"  # flows/content/status.yml: down


@pytest.fixture
def core(tmp_path: Path) -> Iterator[tuple[Flaky, Database, TcpProxy]]:
    """The core system: its database, the Flaky backend over it, served behind a proxy."""
    with sqlite_database(str(tmp_path / "core.db")) as db:
        flaky = Flaky(SqlMembershipBackend(db))
        with serve(flaky) as url:
            base = httpx.URL(url)
            with TcpProxy("127.0.0.1", base.port or 80) as proxy:
                yield flaky, db, proxy


def settings_for(tmp_path: Path, data_key: str, proxy: TcpProxy, *, timeout: float) -> Settings:
    return fault_settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        data_key=data_key,
        MEMBERSHIP_BACKEND="http",
        MEMBERSHIP_API_URL=proxy.url("http", "/api/membership/v1"),
        MEMBERSHIP_API_TOKEN=TOKEN,
        MEMBERSHIP_API_TIMEOUT=timeout,
    )


async def test_a_failing_core_system_then_its_recovery(
    tmp_path: Path, data_key: str, core: tuple[Flaky, Database, TcpProxy]
) -> None:
    flaky, core_db, proxy = core
    async with running(settings_for(tmp_path, data_key, proxy, timeout=1.0)) as (app, client):
        membership = app.state.runtime.membership
        # the breaker's cool-down: 30 s in production (and in the long mode), short for the CI version
        cooldown = membership.breaker.reset_timeout = 30.0 if long_mode() else 1.0
        person = Person()
        user = RestUser(client)
        assert "Cek lagi data Anda" in await user.walk(person.answers())

        # Answering 503 to everything: the user is told, nothing is registered, the breaker opens.
        for op in ("register", "lookup", "ping"):
            flaky.fail[op] = 10_000
        assert DOWN in await user.say("ya")
        assert DOWN in await user.say("ya")  # the draft is kept: the user may simply send again
        checker = RestUser(client)
        await checker.walk(["cek status", person.nik])
        assert STATUS_DOWN in await checker.say(person.birth)
        health = (await client.get("/health")).json()
        assert health["checks"]["membership"] == "down" and health["status"] == "degraded", health
        assert registration_numbers(core_db, person.nik) == []
        assert membership.breaker.state != "closed"

        # Unreachable (connection refused) is the same to the user.
        flaky.reset()
        proxy.cut()
        await asyncio.sleep(cooldown)  # past the cool-down: the next call is a real attempt
        assert DOWN in await user.say("ya")

        # Back: once the cool-down is over, the next message goes through, once.
        proxy.restore()
        back = time.monotonic()
        receipt = await user.say("ya")
        while DOWN in receipt:
            await asyncio.sleep(0.5)
            receipt = await user.say("ya")
        note_recovery("membership API: registration goes through again", time.monotonic() - back)
        assert receipts([receipt]) == registration_numbers(core_db, person.nik) != [], receipt
        assert flaky.calls["register"] == 1
        await until(lambda: _health_ok(client), what="/health to show the membership backend back")


async def _health_ok(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/health")).json()["status"] == "ok")


async def test_a_slow_core_system_registers_once(
    tmp_path: Path, data_key: str, core: tuple[Flaky, Database, TcpProxy]
) -> None:
    """The core system registers, then answers after the client gave up: the client's retry with the same
    idempotency key gets the same registration back, and the user one receipt."""
    flaky, core_db, proxy = core
    async with running(settings_for(tmp_path, data_key, proxy, timeout=1.0)) as (_app, client):
        person = Person()
        user = RestUser(client)
        assert "Cek lagi data Anda" in await user.walk(person.answers())
        flaky.pause = 2.0
        flaky.slow["register"] = 1
        receipt = await user.say("ya")
        assert receipts([receipt]) == registration_numbers(core_db, person.nik) != [], receipt
        assert flaky.calls["register"] == 2  # the timed-out attempt and its replay

        # A slow status check: every attempt times out; the user is told, not left waiting forever.
        flaky.slow["lookup"] = 3
        checker = RestUser(client)
        await checker.walk(["cek status", person.nik])
        assert STATUS_DOWN in await checker.say(person.birth)


async def test_health_answers_while_the_core_system_hangs(
    tmp_path: Path, data_key: str, core: tuple[Flaky, Database, TcpProxy]
) -> None:
    """A hung dependency must not hang /health: each probe is bounded by a short timeout. The client
    here waits up to 30 s (a deadline for a hang); the membership client's own timeout is 60 s."""
    _, _, proxy = core
    async with running(settings_for(tmp_path, data_key, proxy, timeout=60.0)) as (_app, client):
        assert (await client.get("/health")).json()["status"] == "ok"
        proxy.stall()
        response = await client.get("/health", timeout=30.0)
        assert response.status_code == 200
        body = response.json()
        assert body["checks"]["membership"] == "down" and body["checks"]["database"] == "ok", body
        proxy.restore()
