"""PostgreSQL down for a while, through a proxy of the test's own (the shared server keeps running).

While it is down: a REST user gets a clear Indonesian message, never an error; a Telegram or WhatsApp
message is acknowledged (the inbox is in Redis), the user is told it will be answered, and it is answered
when the database is back; /health says `database: down`. A registration confirmed to anyone is in the
database, and nobody is registered twice, also when the database dies between the registration and the
event log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from bot.texts import text
from storage.db import Database, make_engine
from storage.repo import consents
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.faults.proxy import TcpProxy
from tests.faults.support import (
    Person,
    RestUser,
    TelegramUser,
    WhatsAppUser,
    after_first_call,
    fault_settings,
    note_recovery,
    outage_seconds,
    receipts,
    registration_numbers,
    running,
    until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def direct(pg_url: str, data_key: str) -> Iterator[Database]:
    """The same database reached without the proxy, to see what it holds while the app cannot."""
    from storage.crypto import Vault, parse_keys

    db = Database(make_engine(pg_url, pool_size=2), Vault(parse_keys(data_key)))
    yield db
    db.dispose()


def troubled(reply: str) -> bool:
    """A clear Indonesian message that the system has trouble (the channel's, or the registration's)."""
    return reply == text("trouble") or "gangguan" in reply


async def test_postgres_down_for_a_while(
    pg_via_proxy: str,
    pg_proxy: TcpProxy,
    direct: Database,
    data_key: str,
    redis_url: str,
    redis_prefix: str,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
) -> None:
    settings = fault_settings(
        database_url=pg_via_proxy,
        data_key=data_key,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        telegram=telegram_api,
        twilio=twilio_api,
    )
    async with running(settings) as (app, client):
        by_rest, by_telegram = Person(), Person()
        rest = RestUser(client)
        telegram = TelegramUser(client, telegram_api, app.state.inbox.waiting)
        summaries = await asyncio.gather(rest.walk(by_rest.answers()), telegram.walk(by_telegram.answers()))
        assert all("Cek lagi data Anda" in s for s in summaries)
        asking = RestUser(client)

        pg_proxy.cut()
        assert troubled(await rest.say("ya"))
        assert troubled(await asking.say("apa itu jkk"))
        before = len(telegram.received())
        assert await telegram.post(telegram.update("ya")) == 200  # in the inbox: it will be answered
        whatsapp = WhatsAppUser(client, twilio_api, app.state.inbox.waiting)
        assert (await whatsapp.post(whatsapp.form("apa itu jkk"))).status_code == 200
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded" and health["checks"]["database"] == "down", health
        await until(lambda: text("delayed") in telegram.received(), what="the Telegram user to be told")
        await until(lambda: text("delayed") in whatsapp.received(), what="the WhatsApp user to be told")
        await asyncio.sleep(outage_seconds())
        assert (
            registration_numbers(direct, by_rest.nik) == registration_numbers(direct, by_telegram.nik) == []
        )
        pg_proxy.restore()
        back = time.monotonic()

        await until(lambda: receipts(telegram.received()) != [], what="the Telegram user's receipt")
        note_recovery("postgres: Telegram message answered", time.monotonic() - back)
        await until(telegram.drained, what="the inbox to drain")
        while_down = telegram.received()[before:]
        assert receipts(while_down) == registration_numbers(direct, by_telegram.nik), while_down
        assert while_down.count(text("delayed")) == 1 and text("trouble") not in while_down, while_down
        await until(lambda: len(whatsapp.received()) == 2, what="the WhatsApp user's answer")
        assert "Kecelakaan Kerja" in whatsapp.received()[1]

        back = time.monotonic()
        receipt = await rest.say("ya")
        note_recovery("postgres: REST answers again", time.monotonic() - back)
        assert receipts([receipt]) == registration_numbers(direct, by_rest.nik) != []
        assert "Kecelakaan Kerja" in await asking.say("apa itu jkk")
        assert (await client.get("/health")).json()["status"] == "ok"


async def test_postgres_lost_between_the_registration_and_the_event_log(
    pg_via_proxy: str,
    pg_proxy: TcpProxy,
    direct: Database,
    data_key: str,
    redis_url: str,
    redis_prefix: str,
    telegram_api: FakeTelegramAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = fault_settings(
        database_url=pg_via_proxy,
        data_key=data_key,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        telegram=telegram_api,
    )
    async with running(settings) as (app, client):
        runtime = app.state.runtime

        # REST: the registration is committed, then the database is gone before the turn's events.
        person = Person()
        rest = RestUser(client)
        assert "Cek lagi data Anda" in await rest.walk(person.answers())
        after_first_call(monkeypatch, runtime.membership, "register", pg_proxy.cut)
        assert troubled(await rest.say("ya"))
        [number] = registration_numbers(direct, person.nik)  # made, but not confirmed to the user
        await asyncio.sleep(outage_seconds())
        pg_proxy.restore()
        assert receipts([await rest.say("ya")]) == [number]  # the same registration, confirmed
        assert registration_numbers(direct, person.nik) == [number]

        # Telegram: the same, through the inbox (the worker runs the turn again after the outage).
        person = Person()
        telegram = TelegramUser(client, telegram_api, app.state.inbox.waiting)
        assert "Cek lagi data Anda" in await telegram.walk(person.answers())
        after_first_call(monkeypatch, runtime.membership, "register", pg_proxy.cut)
        assert await telegram.post(telegram.update("ya")) == 200
        await until(lambda: registration_numbers(direct, person.nik) != [], what="the registration")
        await asyncio.sleep(outage_seconds())
        pg_proxy.restore()
        await until(lambda: receipts(telegram.received()) != [], what="the receipt")
        await until(telegram.drained, what="the inbox to drain")
        assert receipts(telegram.received()) == registration_numbers(direct, person.nik)


async def test_postgres_lost_between_the_consent_and_the_event_log(
    pg_via_proxy: str,
    pg_proxy: TcpProxy,
    data_key: str,
    redis_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The consent is recorded, then the database is gone before the turn's events: the user's "yes" is
    taken again once it is back, without a second consent tripping over the first."""
    settings = fault_settings(
        database_url=pg_via_proxy, data_key=data_key, redis_url=redis_url, redis_prefix=redis_prefix
    )
    async with running(settings) as (_app, client):
        user = RestUser(client)
        assert "setuju" in (await user.say("sy mau daftar bpjs tk")).lower()
        after_first_call(monkeypatch, consents, "record_consent", pg_proxy.cut)
        assert troubled(await user.say("1"))
        pg_proxy.restore()
        assert "nama lengkap" in (await user.say("1")).lower()
