"""End to end through the real app, the twilio SDK and the local Twilio API server: a whole BPU registration
answered with numbers (the WhatsApp rendering of buttons), then a status check, with every reply read back
from what the bot sent to the Messages API; on the in-process inbox and on the real Redis one. Also: the same
MessageSid twice is one turn, two messages at once are answered in order, media gets a friendly reply, and
a status callback for a sent reply is recorded."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import select

from bot.app import create_app
from bot.clock import WIB, FixedClock
from bot.settings import Settings
from bot.texts import text
from storage.crypto import generate_key
from storage.models import Registration
from storage.repo.subscribers import get_subscriber
from storage.repo.whatsapp import get_status
from tests.channels.conftest import REDIS_URL, eventually_async
from tests.channels.whatsapp_support import forbid_real_twilio
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_NUMBER,
    FakeTwilioAPI,
    inbound_form,
    sign,
    status_form,
)

PUBLIC = "https://bot.bpjs.example.id"
NIK = "3201014506900003"  # a woman born 5 June 1990 (day + 40), Kab. Bogor
BIRTH = "05-06-1990"


@pytest.fixture(autouse=True)
def no_real_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts = forbid_real_twilio(monkeypatch)
    yield
    assert not attempts, f"the real Twilio API was called: {attempts}"


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
def inbox_kind() -> str:
    return "memory"


# the tests that matter across processes run on both inboxes (parametrizing overrides the fixture)
BOTH_INBOXES = pytest.mark.parametrize(
    "inbox_kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)]
)


@pytest.fixture
def phone() -> str:
    # random numbers: with REDIS_URL the session store shares Redis with other test runs
    return f"+62812{random.randint(10_000_000, 99_999_999)}"


@pytest.fixture
def settings(
    tmp_path: Path, twilio_api: FakeTwilioAPI, inbox_kind: str, request: pytest.FixtureRequest
) -> Settings:
    redis_url = request.getfixturevalue("redis_url") if inbox_kind == "redis" else None
    prefix = request.getfixturevalue("redis_prefix") if inbox_kind == "redis" else "jb:"
    return Settings.model_validate(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "DATA_KEY": generate_key(),
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": BOT_NUMBER,
            "TWILIO_API_URL": twilio_api.base_url,
            "PUBLIC_URL": PUBLIC,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "INBOX_WORKERS": 3,
            "INBOX_LEASE_SECONDS": 10,
        }
    )


class WhatsAppUser:
    """One person on WhatsApp: sends what Twilio would post for their messages, reads what the bot sent."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, api: FakeTwilioAPI, phone: str) -> None:
        self.app, self.client, self.api, self.phone = app, client, api, phone
        self.sids: list[str] = []

    @property
    def address(self) -> str:
        return f"whatsapp:{self.phone}"

    async def post(self, form: dict[str, str], path: str = "/webhooks/twilio/webhook") -> httpx.Response:
        signature = sign(PUBLIC + path, form)  # Twilio signs the public URL it called
        return await self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})

    async def send(self, form: dict[str, str]) -> str:
        """Deliver one webhook, wait until the inbox is drained, return what the bot sent meanwhile."""
        before = len(self.api.sent(self.address))
        self.sids.append(form["MessageSid"])
        response = await self.post(form)
        assert response.status_code == 200, response.text
        await self.settled()
        return "\n\n".join(str(p.get("Body", "")) for p in self.api.sent(self.address)[before:])

    async def say(self, body: str) -> str:
        return await self.send(inbound_form(self.phone, body, profile_name="Siti Aminah"))

    async def settled(self) -> None:
        async def drained() -> bool:
            return int(await self.app.state.inbox.waiting()) == 0

        await eventually_async(drained, timeout=60, what="the inbox to drain")  # a deadline for a hang


def option(reply: str, label: str) -> str:
    """The number the bot gave `label` in a numbered list ("2. Hitung iuran" → "2")."""
    for line in reply.splitlines():
        number, dot, title = line.partition(". ")
        if dot and number.isdigit() and title.strip().lower().startswith(label.lower()):
            return number
    raise AssertionError(f"no option {label!r} in {reply!r}")


@pytest.fixture
def forget_our_redis_keys(phone: str) -> Iterator[None]:
    """The runtime's session store may use the default prefix: delete the keys of our chat."""
    yield
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*whatsapp:{phone}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


@pytest.fixture
async def app(settings: Settings, forget_our_redis_keys: None) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=FixedClock(datetime(2026, 11, 21, 9, 0, tzinfo=WIB)))
    async with application.router.lifespan_context(application):
        # The built-in NLU trains on first use (once per data version): do it here, not inside a turn.
        await asyncio.to_thread(application.state.runtime.nlu.parse, "halo")
        yield application


@pytest.fixture
async def user(app: FastAPI, twilio_api: FakeTwilioAPI, phone: str) -> AsyncIterator[WhatsAppUser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:5005") as client:
        yield WhatsAppUser(app, client, twilio_api, phone)


@BOTH_INBOXES
async def test_a_whole_registration_with_numbered_answers_and_a_status_check(
    user: WhatsAppUser, app: FastAPI, twilio_api: FakeTwilioAPI, inbox_kind: str
) -> None:
    menu = await user.say("halo min")
    assert "Balas dengan angka pilihan Anda." in menu
    consent = await user.say(option(menu, "Daftar"))
    assert "setuju" in consent.lower()
    reply = await user.say(option(consent, "Ya"))
    for answer in ("Siti Aminah", NIK, BIRTH):
        assert "nama" in reply.lower() or "nik" in reply.lower() or "lahir" in reply.lower(), reply
        reply = await user.say(answer)
    reply = await user.say(option(reply, "Pakai"))  # WhatsApp told the bot the number: offered as a choice
    reply = await user.say("Kabupaten Bogor")
    reply = await user.say(option(reply, "Pedagang pasar"))
    assert "penghasilan" in reply.lower(), reply
    reply = await user.say("2 juta")
    reply = await user.say(option(reply, "JKK + JKM ("))  # the package
    summary = await user.say("1")  # the payment period: 1 month
    assert "Cek lagi data Anda" in summary and NIK not in summary
    assert f"0{user.phone[3:6]}-" in summary  # the WhatsApp number, taken from the webhook's From
    done = await user.say(option(summary, "Ya"))
    assert "Pendaftaran terkirim" in done, done
    with app.state.runtime.db.session() as session:
        [registration] = list(session.scalars(select(Registration)))
    assert registration.channel == "whatsapp"
    assert registration.registration_number and registration.registration_number in done

    status = await user.say("cek status")
    status = await user.say(NIK)
    status = await user.say(BIRTH)
    assert "menunggu pembayaran" in status.lower(), status
    assert NIK not in status
    assert all(
        p["From"] == BOT_NUMBER and p["StatusCallback"] == PUBLIC + "/webhooks/twilio/status"
        for p in twilio_api.sent()
    )


@BOTH_INBOXES
async def test_the_same_message_sid_twice_is_one_turn(user: WhatsAppUser, twilio_api: FakeTwilioAPI) -> None:
    form = inbound_form(user.phone, "berapa iuran ojol?")
    first = await user.send(form)
    assert first
    again = await user.send(form)  # Twilio retried the webhook
    assert again == ""
    assert len(twilio_api.sent(user.address)) == 1


@BOTH_INBOXES
async def test_two_messages_at_once_are_answered_in_order(
    user: WhatsAppUser, app: FastAPI, twilio_api: FakeTwilioAPI
) -> None:
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    workers = app.state.channels.workers
    handle = workers.handle

    def held(msg: Any) -> Any:
        asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(20)  # the first turn is slow
        return handle(msg)

    workers.handle = held
    first = await user.post(inbound_form(user.phone, "apa itu JKK"))
    second = await user.post(inbound_form(user.phone, "apa itu JKM"))
    assert first.status_code == second.status_code == 200  # both acknowledged before any answer
    assert twilio_api.sent(user.address) == []
    gate.set()
    await user.settled()
    bodies = [str(p["Body"]) for p in twilio_api.sent(user.address)]
    assert len(bodies) == 2
    assert "Kecelakaan Kerja" in bodies[0] and "Kematian" in bodies[1], bodies


async def test_media_and_locations_get_a_friendly_reply(user: WhatsAppUser) -> None:
    photo = inbound_form(
        user.phone, "ini ktp saya", media=[("image/jpeg", "https://api.twilio.com/x/Media/ME1")]
    )
    assert await user.send(photo) == text("non_text")
    assert await user.send(inbound_form(user.phone, location=(-6.59, 106.79))) == text("non_text")


async def test_a_status_callback_for_a_reply_is_recorded(
    user: WhatsAppUser, app: FastAPI, twilio_api: FakeTwilioAPI
) -> None:
    await user.say("/subscribe")
    [request] = [r for r in twilio_api.requests if r.status == 201]
    assert request.sid is not None
    for status in ("sent", "delivered", "read"):
        response = await user.post(
            status_form(request.sid, status, user.phone), path="/webhooks/twilio/status"
        )
        assert response.status_code == 204
    recorded = get_status(app.state.runtime.db, request.sid)
    assert recorded is not None and recorded.status == "read"
    subscriber = get_subscriber(app.state.runtime.db, channel="whatsapp", chat_id=user.phone)
    assert subscriber is not None and subscriber.status == "opted_in"


async def test_a_user_who_sent_stop_on_twilio_is_unsubscribed(
    user: WhatsAppUser, app: FastAPI, twilio_api: FakeTwilioAPI
) -> None:
    await user.say("/subscribe")
    twilio_api.unsubscribe(user.address)  # Twilio now refuses every message to them (21610)
    assert await user.say("halo") == ""
    subscriber = get_subscriber(app.state.runtime.db, channel="whatsapp", chat_id=user.phone)
    assert subscriber is not None and subscriber.unreachable and subscriber.status == "opted_out"


async def test_a_rate_limited_reply_is_retried_until_it_is_sent(
    user: WhatsAppUser, twilio_api: FakeTwilioAPI
) -> None:
    twilio_api.fail(status=429, code=20429, to=user.address)
    twilio_api.fail(status=503, to=user.address)
    reply = await user.say("menu")
    assert "Balas dengan angka pilihan Anda." in reply
    assert [r.status for r in twilio_api.requests] == [429, 503, 201]
