"""A web worker (a `jamsosbot serve` process) killed with SIGKILL in the middle of two turns: a Telegram
message answered by its inbox workers and a REST request, both confirming a registration. The core system
(the membership API, as in production) has registered both and is slow to answer when the kill comes.

What must hold once a replacement process is up (no other intervention): the Telegram user gets the
receipt, once; the REST user, whose request died with the process, sends again and gets the same
registration; the core system holds exactly one registration per person.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.inbox_redis import RedisInbox
from bot.texts import text
from storage.db import Database
from storage.membership.sql import SqlMembershipBackend
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.faults.servers import ServerProcess
from tests.faults.support import (
    TELEGRAM_SECRET,
    Person,
    RestUser,
    TelegramUser,
    fast_leases,
    note_recovery,
    receipts,
    registration_numbers,
    until,
)
from tests.storage.membership_support import TOKEN, Flaky, serve, sqlite_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
async def inbox(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisInbox]:
    """The servers' inbox seen from the test (to know when everything delivered was answered)."""
    inbox = RedisInbox.from_url(redis_url, prefix=redis_prefix)
    yield inbox
    await inbox.aclose()


async def test_a_web_worker_killed_mid_turn(
    tmp_path: Path,
    pg_url: str,
    data_key: str,
    redis_url: str,
    redis_prefix: str,
    telegram_api: FakeTelegramAPI,
    inbox: RedisInbox,
) -> None:
    with sqlite_database(str(tmp_path / "core.db")) as core_db:
        flaky = Flaky(SqlMembershipBackend(core_db))
        with serve(flaky) as core_url:
            env = {
                "JAMSOSBOT_ENV": "test",
                "DATABASE_URL": pg_url,
                "DATA_KEY": data_key,
                "REDIS_URL": redis_url,
                "REDIS_PREFIX": redis_prefix,
                "TELEGRAM_BOT_TOKEN": telegram_api.token,
                "TELEGRAM_API_URL": telegram_api.base_url,
                "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                "MEMBERSHIP_BACKEND": "http",
                "MEMBERSHIP_API_URL": core_url,
                "MEMBERSHIP_API_TOKEN": TOKEN,
                "MEMBERSHIP_API_TIMEOUT": "30",
                "INBOX_WORKERS": "2",
                **fast_leases(),
            }
            first = ServerProcess(env, tmp_path / "server.log").start()
            try:
                await _kill_mid_turn(first, env, tmp_path, flaky, core_db, telegram_api, inbox)
            finally:
                first.stop()


async def _kill_mid_turn(
    first: ServerProcess,
    env: dict[str, str],
    tmp_path: Path,
    flaky: Flaky,
    core_db: Database,
    telegram_api: FakeTelegramAPI,
    inbox: RedisInbox,
) -> None:
    by_telegram, by_rest = Person(), Person()
    async with httpx.AsyncClient(base_url=first.url, timeout=60) as client:
        telegram = TelegramUser(client, telegram_api, inbox.waiting)
        rest = RestUser(client)
        summaries = await asyncio.gather(telegram.walk(by_telegram.answers()), rest.walk(by_rest.answers()))
        assert all("Cek lagi data Anda" in s for s in summaries)

        flaky.pause = 8.0  # both registrations are made, then their answers are held back
        flaky.slow["register"] = 2
        assert await telegram.post(telegram.update("ya")) == 200
        in_flight = asyncio.create_task(rest.say("ya"))
        await until(lambda: flaky.calls["register"] == 2, what="both turns to reach the core system")
        first.kill()
        killed = time.monotonic()
        with pytest.raises(httpx.TransportError):  # the REST client sees the connection drop
            await in_flight

    second = ServerProcess(env, tmp_path / "server.log").start()  # the process manager's replacement
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=60) as client:
            await until(lambda: receipts(telegram.received()) != [], what="the Telegram user's receipt")
            note_recovery(
                "web worker killed: Telegram receipt (replacement started)", time.monotonic() - killed
            )
            await until(telegram.drained, what="the inbox to drain")
            assert receipts(telegram.received()) == registration_numbers(core_db, by_telegram.nik)

            rest.client = client
            reply = await rest.say("ya")
            while reply == text("busy"):  # the dead turn's lock has not run out yet: send again
                await asyncio.sleep(1.0)
                reply = await rest.say("ya")
            note_recovery("web worker killed: REST resend confirmed", time.monotonic() - killed)
            assert receipts([reply]) == registration_numbers(core_db, by_rest.nik) != [], reply
            assert flaky.calls["register"] == 4  # the two killed turns, and their two replays
    finally:
        second.stop()
    for person in (by_telegram, by_rest):  # the processes' logs, kill and recovery included
        assert person.nik not in second.output() and person.phone not in second.output()
