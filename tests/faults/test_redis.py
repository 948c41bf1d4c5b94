"""Redis (sessions, locks, dedupe, the inbox) down for a while, through a proxy of the test's own.

While it is down: the REST channel answers the `trouble` text (never an error or silence), Telegram's
webhook answers 503 (Telegram delivers the update again), Twilio's webhook answers with a TwiML message
asking the user to send again (Twilio does not redeliver), /health says `sessions: down`. When it is back,
without a restart: the conversation goes on where it was, the redelivered update is answered once, and a
registration made while Redis died mid-turn is confirmed to the user exactly once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.texts import text
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


async def test_redis_down_for_a_while(
    pg_url: str,
    data_key: str,
    redis_proxy: TcpProxy,
    redis_prefix: str,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
) -> None:
    settings = fault_settings(
        database_url=pg_url,
        data_key=data_key,
        redis_url=redis_proxy.url("redis", "/0"),
        redis_prefix=redis_prefix,
        telegram=telegram_api,
        twilio=twilio_api,
    )
    async with running(settings) as (app, client):
        db = app.state.runtime.db
        person = Person()
        answers = person.answers()
        rest = RestUser(client)
        await rest.walk(answers[:4])  # consent, name and NIK are in the session (in Redis)
        telegram = TelegramUser(client, telegram_api, app.state.inbox.waiting)
        assert await telegram.say("halo")

        redis_proxy.cut()
        assert await rest.say(answers[4]) == text("trouble")
        update = telegram.update("apa itu jkk")
        assert await telegram.post(update) == 503  # not recorded: Telegram delivers it again
        whatsapp = WhatsAppUser(client, twilio_api, app.state.inbox.waiting)
        refused = await whatsapp.post(whatsapp.form("apa itu jkk"))  # Twilio never delivers it again:
        assert refused.status_code == 200 and text("unreceived") in refused.text  # so the user is asked
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded" and health["checks"]["sessions"] == "down", health
        await asyncio.sleep(outage_seconds())
        redis_proxy.restore()
        back = time.monotonic()

        # The REST conversation goes on from where it was: the birth date again.
        assert "nomor hp" in (await rest.say(answers[4])).lower()
        note_recovery("redis: REST answers again", time.monotonic() - back)

        # Telegram's redelivery is answered, once; a further redelivery is not answered again.
        before = len(telegram.received())
        assert await telegram.post(update) == 200
        await until(lambda: len(telegram.received()) > before, what="the redelivered update's answer")
        note_recovery("redis: Telegram redelivery answered", time.monotonic() - back)
        assert "Kecelakaan Kerja" in "\n".join(telegram.received()[before:])
        answered = len(telegram.received())
        assert await telegram.post(update) == 200
        await until(telegram.drained, what="the inbox to drain")
        assert len(telegram.received()) == answered

        # The WhatsApp user sends again, and is answered once.
        assert "Kecelakaan Kerja" in await whatsapp.say("apa itu jkk")
        assert len(whatsapp.received()) == 1

        # The REST registration goes on to the end.
        summary = await rest.walk(answers[5:])
        assert "Cek lagi data Anda" in summary
        receipt = await rest.say("ya")
        assert receipts([receipt]) == registration_numbers(db, person.nik) != []
        assert (await client.get("/health")).json()["status"] == "ok"


async def test_redis_lost_in_the_middle_of_a_turn(
    pg_url: str,
    data_key: str,
    redis_proxy: TcpProxy,
    redis_prefix: str,
    telegram_api: FakeTelegramAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis goes away after the registration was made and before the turn was saved (inbox path), and
    after the turn was saved but before its lock was released (REST path)."""
    settings = fault_settings(
        database_url=pg_url,
        data_key=data_key,
        redis_url=redis_proxy.url("redis", "/0"),
        redis_prefix=redis_prefix,
        telegram=telegram_api,
    )
    async with running(settings) as (app, client):
        runtime = app.state.runtime
        db = runtime.db

        # Telegram: the registration is made, then Redis is gone before the session is saved.
        person = Person()
        telegram = TelegramUser(client, telegram_api, app.state.inbox.waiting)
        assert "Cek lagi data Anda" in await telegram.walk(person.answers())
        after_first_call(monkeypatch, runtime.membership, "register", redis_proxy.cut)
        assert await telegram.post(telegram.update("ya")) == 200
        await until(lambda: registration_numbers(db, person.nik) != [], what="the registration")
        await asyncio.sleep(outage_seconds())
        redis_proxy.restore()
        back = time.monotonic()
        await until(lambda: receipts(telegram.received()) != [], what="the receipt")
        note_recovery("redis lost mid-turn: Telegram receipt", time.monotonic() - back)
        await until(telegram.drained, what="the inbox to drain")
        assert receipts(telegram.received()) == registration_numbers(db, person.nik)

        # REST: the turn is saved, then Redis is gone before the conversation's lock is released.
        person = Person()
        rest = RestUser(client)
        assert "Cek lagi data Anda" in await rest.walk(person.answers())
        after_first_call(monkeypatch, runtime.store, "set", redis_proxy.cut)
        receipt = await rest.say("ya")
        redis_proxy.restore()
        assert receipts([receipt]) == registration_numbers(db, person.nik) != [], receipt
