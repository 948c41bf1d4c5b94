"""End to end through the real app, python-telegram-bot and the local Bot API server: a whole BPU registration
done with button presses and typed answers, then a status check, in webhook mode (through the ASGI app) and
in polling mode (getUpdates), on the in-process inbox and on the real Redis one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis
from fastapi import FastAPI
from sqlalchemy import select

from bot.app import create_app
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.channels.telegram_poll import TelegramPoller
from bot.channels.telegram_sender import make_bot
from bot.inbox_service import ChannelService
from bot.runtime import Runtime
from bot.settings import Settings, load_settings
from bot.texts import text
from storage.crypto import generate_key
from storage.models import Event, Registration
from storage.repo.subscribers import get_subscriber
from tests.channels.conftest import REDIS_URL
from tests.channels.telegram_factories import Updates
from tests.channels.telegram_user import TelegramUser, payloads, texts
from tests.fakes.telegram_api import FakeTelegramAPI

SECRET = "kkbc-Webhook_secret-2026"
NIK = "3201014506900003"  # a woman born 5 June 1990 (day + 40), Kab. Bogor
BIRTH = "05-06-1990"


def bot_settings(tmp_path: Path, api: FakeTelegramAPI, redis_url: str | None, prefix: str) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        data_key=generate_key(),
        telegram_bot_token=api.token,
        telegram_api_url=api.base_url,
        telegram_webhook_secret=SECRET,
        redis_url=redis_url,
        redis_prefix=prefix,
        inbox_workers=3,
        inbox_lease_seconds=10,
    )


# One app per inbox kind for the whole module (building the runtime is the slow part); each test talks
# from a chat of its own, so tests do not see each other's messages.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def telegram_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def inbox_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def module_redis_prefix(inbox_kind: str) -> Iterator[str]:
    prefix = f"jbtest:{random.getrandbits(48):012x}:"
    yield prefix
    if inbox_kind == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory,
    telegram_api: FakeTelegramAPI,
    inbox_kind: str,
    module_redis_prefix: str,
    request: pytest.FixtureRequest,
) -> Settings:
    redis_url = request.getfixturevalue("redis_url") if inbox_kind == "redis" else None
    return bot_settings(tmp_path_factory.mktemp("bot"), telegram_api, redis_url, module_redis_prefix)


@pytest.fixture
def chat_id() -> int:
    # Random ids: with REDIS_URL the session store shares Redis with other test runs.
    return random.randint(1_000_000_000, 1_900_000_000)


@pytest.fixture
def updates() -> Updates:
    return Updates(first_update_id=random.randint(10**8, 9 * 10**8))


@pytest.fixture
def forget_our_redis_keys(chat_id: int, updates: Updates, inbox_kind: str) -> Iterator[None]:
    """The runtime's session store may use the default prefix: delete the keys of our chat and updates."""
    yield
    if inbox_kind != "redis":
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = set(client.scan_iter(match=f"*telegram:{chat_id}*", count=1000))
        keys |= {k for k in client.scan_iter(match="*seen:telegram:*", count=1000) if _ours(k, updates)}
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _ours(key: bytes, updates: Updates) -> bool:
    tail = key.rsplit(b":", 1)[-1]
    return tail.isdigit() and updates.first_update_id <= int(tail) < updates.first_update_id + 10_000


async def warm_up(runtime: Runtime) -> None:
    """Load (or, after a change to the NLU data, train) the intent model before the conversation starts,
    so no turn of the test pays for it."""
    await asyncio.to_thread(runtime.nlu.parse, "halo")


class Webhook:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    async def post(
        self, update: Any, *, secret: str | None = SECRET, raw: bytes | None = None
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        if raw is not None:
            return await self.client.post(WEBHOOK_PATH, content=raw, headers=headers)
        return await self.client.post(WEBHOOK_PATH, json=update, headers=headers)

    async def deliver(self, update: dict[str, Any]) -> None:
        response = await self.post(update)
        assert response.status_code == 200, response.text

    async def settled(self, update_id: int) -> bool:
        return int(await self.app.state.inbox.waiting()) == 0

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def webhook(settings: Settings) -> AsyncIterator[Webhook]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await warm_up(app.state.runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            yield Webhook(app, client)


@pytest.fixture
def user(
    webhook: Webhook,
    telegram_api: FakeTelegramAPI,
    updates: Updates,
    chat_id: int,
    forget_our_redis_keys: None,
) -> TelegramUser:
    return TelegramUser(telegram_api, updates, chat_id, webhook.deliver, webhook.settled)


async def register_then_check_status(user: TelegramUser, runtime: Runtime) -> None:
    """A whole BPU registration, mostly by buttons, then a status check of it."""
    sent = await user.command("start", "kkbc_tanahabang")
    assert "/register" in payloads(sent)
    sent = await user.press(title="Daftar BPU")
    assert "/affirm" in payloads(sent)  # the consent question
    await user.press(title="Ya, saya setuju")
    for answer in ("Siti Rahma", NIK, BIRTH, "0812-3456-7890", "Kota Bogor"):
        sent = await user.say(answer)
        assert sent, f"no answer to {answer!r}"
    sent = await user.press('/choose{"value":"pedagang pasar"}')
    assert "2 juta" in texts(sent) or "penghasilan" in texts(sent).lower()
    sent = await user.say("2 juta")
    sent = await user.press(index=0)  # the program package
    sent = await user.press(index=0)  # the payment period
    assert "/affirm" in payloads(sent), texts(sent)  # the summary, to confirm
    assert NIK not in texts(sent)  # the summary masks the NIK
    sent = await user.press(title="Ya, daftarkan")
    with runtime.db.session() as session:
        registrations = list(session.scalars(select(Registration)))
    assert len(registrations) == 1 and registrations[0].channel == "telegram"
    assert registrations[0].registration_number and registrations[0].registration_number in texts(sent)

    await user.command("menu")
    sent = await user.press(title="Cek status")
    sent = await user.say(NIK)
    sent = await user.say(BIRTH)
    assert "menunggu pembayaran" in texts(sent).lower(), texts(sent)
    assert NIK not in texts(sent)

    with runtime.db.session() as session:
        started = [e for e in session.scalars(select(Event)) if e.type == "conversation.started"]
    assert any((e.data or {}).get("source") == "kkbc_tanahabang" for e in started)  # the campaign source


async def test_a_whole_registration_and_a_status_check_by_webhook(
    webhook: Webhook, user: TelegramUser, inbox_kind: str
) -> None:
    await register_then_check_status(user, webhook.runtime)


# -- webhook security and robustness ---------------------------------------------------------------
FORGED = [None, "", "wrong-secret", SECRET + "x", SECRET[:-1], SECRET.upper()]
MALFORMED = [
    b"{not json",
    b"",
    b"[1, 2]",
    b'"update"',
    b'{"message": {"text": "halo"}}',
    b'{"update_id": "12"}',
    b'{"update_id": 12, "message": "halo"}',
    b'{"update_id": 12, "message": {"message_id": 1, "chat": 5, "date": 0, "text": "x"}}',
    b'{"update_id": 12, "callback_query": {"id": "1"}}',
    b'{"update_id": 12, "message": {"text": "\xff\xfe"}}',
]


async def test_a_forged_or_missing_secret_is_refused_before_parsing(
    webhook: Webhook, updates: Updates, chat_id: int, telegram_api: FakeTelegramAPI
) -> None:
    for secret in FORGED:
        response = await webhook.post(updates.text(chat_id, "halo"), secret=secret)
        assert response.status_code == 403, secret
        garbage = await webhook.post(None, secret=secret, raw=b"{not json")
        assert garbage.status_code == 403, secret  # the body is never looked at
    assert await webhook.app.state.inbox.waiting() == 0 and telegram_api.sent(chat_id) == []


async def test_malformed_bodies_get_a_4xx_never_a_500(webhook: Webhook) -> None:
    for raw in MALFORMED:
        response = await webhook.post(None, raw=raw)
        assert 400 <= response.status_code < 500, (raw, response.status_code)
    assert await webhook.app.state.inbox.waiting() == 0


async def test_an_oversized_body_is_refused(webhook: Webhook) -> None:
    response = await webhook.post(None, raw=b'{"update_id": 1, "pad": "' + b"x" * 1_100_000 + b'"}')
    assert response.status_code == 413


async def test_without_a_configured_secret_the_webhook_refuses_everything(
    tmp_path: Path, telegram_api: FakeTelegramAPI, updates: Updates, chat_id: int
) -> None:
    settings = bot_settings(tmp_path, telegram_api, None, "jb:").model_copy(
        update={"telegram_webhook_secret": None}
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test") as client,
    ):
        response = await client.post(
            WEBHOOK_PATH, json=updates.text(chat_id, "halo"), headers={SECRET_HEADER: ""}
        )
    assert response.status_code == 403


async def test_the_same_update_twice_is_one_turn(
    webhook: Webhook, user: TelegramUser, updates: Updates, chat_id: int, telegram_api: FakeTelegramAPI
) -> None:
    update = updates.command(chat_id, "start")
    first = await user.send(update)
    assert first
    retried = await user.send(update)  # Telegram retries a webhook it thinks failed
    assert retried == []
    assert len(telegram_api.sent(chat_id)) == len(first)


async def test_two_messages_at_once_are_answered_in_order(
    webhook: Webhook,
    updates: Updates,
    chat_id: int,
    telegram_api: FakeTelegramAPI,
    forget_our_redis_keys: None,
) -> None:
    gate = asyncio.Event()
    workers = webhook.app.state.channels.workers
    handle = workers.handle

    def held(msg: Any) -> Any:
        asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(20)  # the first turn is slow
        return handle(msg)

    loop = asyncio.get_running_loop()
    workers.handle = held
    try:
        first = await webhook.post(updates.text(chat_id, "/ask_jkk"))
        second = await webhook.post(updates.text(chat_id, "/ask_jkm"))
        assert first.status_code == second.status_code == 200  # both acknowledged before any answer
        assert telegram_api.sent(chat_id) == []
        gate.set()
        await _settle(webhook)
    finally:
        gate.set()
        workers.handle = handle
    answers = texts(telegram_api.sent(chat_id))
    assert "JKK" in answers and "JKM" in answers
    assert answers.index("JKK") < answers.index("JKM"), answers


async def _settle(webhook: Webhook) -> None:
    from tests.channels.conftest import eventually_async

    await eventually_async(lambda: webhook.settled(0), what="the inbox to drain")


async def test_non_text_messages_get_a_friendly_reply(user: TelegramUser, updates: Updates) -> None:
    for kind in ("sticker", "photo", "voice", "location"):
        sent = await user.send(getattr(updates, kind)(user.chat_id))
        assert texts(sent) == text("non_text"), kind


async def test_flood_control_is_honoured(user: TelegramUser, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.fail("sendMessage", status=429, retry_after=1, chat_id=user.chat_id)
    sent = await user.command("start")
    assert sent and "/register" in payloads(sent)
    calls = telegram_api.calls_of("sendMessage", ok_only=False)
    statuses = [c.status for c in calls if str(c.params.get("chat_id")) == str(user.chat_id)]
    assert statuses[:2] == [429, 200]


async def test_commands_menu_bantuan_and_stop(user: TelegramUser, webhook: Webhook) -> None:
    menu = await user.command("menu")
    assert "/register" in payloads(menu)
    help_ = await user.command("bantuan")
    assert payloads(help_), "the help offers next steps"
    await user.say("/subscribe")
    db = webhook.runtime.db
    subscriber = get_subscriber(db, channel="telegram", chat_id=str(user.chat_id))
    assert subscriber is not None and subscriber.status == "opted_in"
    stopped = await user.command("stop")
    assert stopped
    subscriber = get_subscriber(db, channel="telegram", chat_id=str(user.chat_id))
    assert subscriber is not None and subscriber.status == "opted_out"


async def test_a_user_who_blocked_the_bot_is_unsubscribed(
    user: TelegramUser, webhook: Webhook, telegram_api: FakeTelegramAPI
) -> None:
    await user.say("/subscribe")
    db = webhook.runtime.db
    assert get_subscriber(db, channel="telegram", chat_id=str(user.chat_id)).status == "opted_in"  # type: ignore[union-attr]
    telegram_api.block(user.chat_id)
    assert await user.say("halo") == []  # the answer bounced with 403 Forbidden
    subscriber = get_subscriber(db, channel="telegram", chat_id=str(user.chat_id))
    assert subscriber is not None and subscriber.unreachable and subscriber.status == "opted_out"


async def test_telegrams_blocked_notice_unsubscribes_too(
    user: TelegramUser, webhook: Webhook, updates: Updates
) -> None:
    await user.say("/subscribe")
    assert await user.send(updates.blocked(user.chat_id)) == []
    subscriber = get_subscriber(webhook.runtime.db, channel="telegram", chat_id=str(user.chat_id))
    assert subscriber is not None and subscriber.unreachable and subscriber.status == "opted_out"


# -- polling mode ---------------------------------------------------------------------------------
async def test_a_whole_registration_and_a_status_check_by_polling(
    settings: Settings,
    tmp_path: Path,
    telegram_api: FakeTelegramAPI,
    updates: Updates,
    chat_id: int,
    forget_our_redis_keys: None,
) -> None:
    # A database of its own (the module's app has one registration already).
    # Its own inbox keys too: the module's app would otherwise answer (it shares the inbox, as processes do).
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'poll.db'}",
            "redis_prefix": settings.redis_prefix + "poll:",
        }
    )
    telegram_api._m_setWebhook({"url": "https://old.example.org/hook"})  # left over from webhook mode
    runtime = await asyncio.to_thread(Runtime.build, settings)
    await warm_up(runtime)
    service = await ChannelService.start(settings, runtime)
    bot = make_bot(settings, pool_size=1)
    poller = TelegramPoller(bot, service.inbox, timeout=2)
    stop = asyncio.Event()
    try:
        async with bot:
            polling = asyncio.create_task(poller.run(stop))

            async def deliver(update: dict[str, Any]) -> None:
                telegram_api.push_update(update)

            async def settled(update_id: int) -> bool:
                return (poller.offset or 0) > update_id and await service.inbox.waiting() == 0

            user = TelegramUser(telegram_api, updates, chat_id, deliver, settled)
            try:
                await register_then_check_status(user, runtime)
            finally:
                stop.set()
                await asyncio.wait_for(polling, 10)  # stops within one long poll
    finally:
        await service.stop()
        runtime.close()
    assert telegram_api.webhook is None  # polling removed the webhook first
    assert telegram_api.calls_of("getUpdates")
