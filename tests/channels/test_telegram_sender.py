"""The Telegram sender through python-telegram-bot against the local Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import NetworkError

from bot.channels.telegram_sender import TelegramSender, build_sender, callback_data, make_bot, split_text
from bot.messages import InboundMessage
from bot.outbound import RateLimited, RecipientUnreachable, SendError
from bot.settings import Settings, load_settings
from flows.replies import Button, Reply
from tests.channels.conftest import RealTelegramCalled
from tests.fakes.telegram_api import FakeTelegramAPI

CHAT = "510000001"


def settings_for(api: FakeTelegramAPI) -> Settings:
    return load_settings(telegram_bot_token=api.token, telegram_api_url=api.base_url)


@pytest.fixture
async def sender(telegram_api: FakeTelegramAPI) -> AsyncIterator[TelegramSender]:
    sender = TelegramSender(make_bot(settings_for(telegram_api)), backoff_base=0.01)
    yield sender
    await sender.aclose()


async def test_text_and_buttons_become_an_inline_keyboard(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    replies = [
        Reply("Halo! Saya asisten BPJS Ketenagakerjaan."),
        Reply(
            "Mau apa hari ini?", (Button("Info manfaat", "/ask_programs"), Button("Daftar BPU", "/register"))
        ),
    ]
    ids = await sender.send(CHAT, replies)
    sent = telegram_api.sent(CHAT)
    assert [p["text"] for p in sent] == ["Halo! Saya asisten BPJS Ketenagakerjaan.", "Mau apa hari ini?"]
    assert "reply_markup" not in sent[0]
    keyboard = sent[1]["reply_markup"]["inline_keyboard"]
    assert keyboard == [
        [
            {"text": "Info manfaat", "callback_data": "/ask_programs"},
            {"text": "Daftar BPU", "callback_data": "/register"},
        ]
    ]
    assert len(ids) == 2 and ids[0] != ids[1]
    assert all("parse_mode" not in p for p in sent)  # plain text: a masked NIK is full of asterisks


async def test_long_titles_go_one_to_a_row(sender: TelegramSender, telegram_api: FakeTelegramAPI) -> None:
    buttons = (
        Button("Jaminan Kecelakaan Kerja (JKK)", "/ask_jkk"),
        Button("Jaminan Kematian (JKM)", "/ask_jkm"),
    )
    await sender.send(CHAT, [Reply("Program mana?", buttons)])
    rows = telegram_api.sent(CHAT)[0]["reply_markup"]["inline_keyboard"]
    assert [len(r) for r in rows] == [1, 1]


def test_callback_data_falls_back_to_the_title_beyond_64_bytes() -> None:
    short = Button("Ya", '/choose{"value":"ya"}')
    assert callback_data(short) == '/choose{"value":"ya"}'
    long = Button("Pedagang pasar", '/choose{"value":"pedagang pasar","extra":"' + "x" * 60 + '"}')
    assert callback_data(long) == "Pedagang pasar"
    huge = Button("é" * 40, "/" + "x" * 80)
    assert len(callback_data(huge).encode()) <= 64


async def test_a_text_over_4096_characters_is_split_with_the_keyboard_last(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    paragraph = "Iuran BPU dibayar setiap bulan paling lambat tanggal 15. " * 20
    text = "\n\n".join([paragraph] * 6)
    await sender.send(CHAT, [Reply(text, (Button("Menu", "/menu"),))])
    sent = telegram_api.sent(CHAT)
    assert len(sent) >= 2 and all(len(p["text"]) <= 4096 for p in sent)
    assert "".join(p["text"] for p in sent).replace(" ", "").replace("\n", "") == text.replace(
        " ", ""
    ).replace("\n", "")
    assert "reply_markup" in sent[-1] and all("reply_markup" not in p for p in sent[:-1])


def test_split_text_keeps_short_texts_whole() -> None:
    assert split_text("Halo") == ["Halo"]
    assert split_text("a" * 5000, 4096) == ["a" * 4096, "a" * 904]


async def test_an_image_goes_as_a_photo_with_its_caption(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    reply = Reply(
        "Kerja Keras Bebas Cemas", (Button("Daftar", "/register"),), image="https://example.org/kkbc.png"
    )
    await sender.send(CHAT, [reply])
    (photo,) = telegram_api.calls_of("sendPhoto")
    assert photo.params["photo"] == "https://example.org/kkbc.png"
    assert photo.params["caption"] == "Kerja Keras Bebas Cemas"
    assert photo.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/register"


async def test_flood_control_waits_as_long_as_telegram_asks(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.fail("sendMessage", status=429, retry_after=1)
    await sender.send(CHAT, [Reply("Halo")])
    attempts = telegram_api.calls_of("sendMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95  # honoured retry_after, not hammered
    assert telegram_api.sent_texts(CHAT) == ["Halo"]


async def test_flood_control_without_retries_raises_rate_limited(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.fail("sendMessage", status=429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await sender.send(CHAT, [Reply("Halo")], retry=False)
    assert caught.value.retry_after == 7 and not caught.value.permanent
    assert telegram_api.sent(CHAT) == []


async def test_network_errors_are_retried_with_backoff(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.fail("sendMessage", status=0)  # connection dropped
    telegram_api.fail("sendMessage", status=502)
    await sender.send(CHAT, [Reply("Halo")])
    assert [c.status for c in telegram_api.calls_of("sendMessage", ok_only=False)] == [0, 502, 200]


async def test_network_errors_give_up_after_the_attempts(telegram_api: FakeTelegramAPI) -> None:
    sender = TelegramSender(make_bot(settings_for(telegram_api)), backoff_base=0.01, max_attempts=3)
    telegram_api.fail("sendMessage", status=502, times=5)
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(CHAT, [Reply("Halo")])
    finally:
        await sender.aclose()
    assert not caught.value.permanent
    assert len(telegram_api.calls_of("sendMessage", ok_only=False)) == 3


async def test_a_user_who_blocked_the_bot_is_unreachable(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.block(CHAT)
    with pytest.raises(RecipientUnreachable) as caught:
        await sender.send(CHAT, [Reply("Halo")])
    assert caught.value.reason == "blocked" and caught.value.permanent and caught.value.code == "403"
    assert len(telegram_api.calls_of("sendMessage", ok_only=False)) == 1  # never retried


async def test_an_unknown_chat_is_unreachable_and_other_400s_are_permanent(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.fail("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(RecipientUnreachable) as unknown:
        await sender.send(CHAT, [Reply("Halo")])
    assert unknown.value.reason == "chat_not_found"
    telegram_api.fail("sendMessage", status=400, description="Bad Request: can't parse entities")
    with pytest.raises(SendError) as bad:
        await sender.send(CHAT, [Reply("Halo")])
    assert bad.value.permanent and not isinstance(bad.value, RecipientUnreachable)


async def test_typing_and_callback_answers(sender: TelegramSender, telegram_api: FakeTelegramAPI) -> None:
    await sender.typing(CHAT)
    press = InboundMessage(
        "telegram", CHAT, "/register", message_id="9", metadata={"callback_query_id": "77"}
    )
    await sender.acknowledge(press)
    await sender.acknowledge(InboundMessage("telegram", CHAT, "halo", message_id="10"))  # nothing to answer
    assert [c.params["action"] for c in telegram_api.calls_of("sendChatAction")] == ["typing"]
    assert [c.params["callback_query_id"] for c in telegram_api.calls_of("answerCallbackQuery")] == ["77"]


async def test_typing_and_acknowledge_never_raise(
    sender: TelegramSender, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.block(CHAT)
    telegram_api.fail("answerCallbackQuery", status=400, description="Bad Request: query is too old")
    await sender.typing(CHAT)
    await sender.acknowledge(InboundMessage("telegram", CHAT, "x", metadata={"callback_query_id": "1"}))


async def test_the_factory_builds_a_sender_only_when_telegram_is_configured(
    telegram_api: FakeTelegramAPI,
) -> None:
    assert await build_sender(load_settings()) is None
    sender = await build_sender(settings_for(telegram_api))
    assert sender is not None
    await sender.send(CHAT, [Reply("Halo")])
    await sender.aclose()
    assert telegram_api.calls_of("getMe")  # initialised lazily, on first use


async def test_the_guard_fails_any_call_to_the_real_telegram(no_real_telegram: list[str]) -> None:
    bot = Bot("123456:TEST-token_abc")  # the official base URL
    with pytest.raises(NetworkError) as caught:  # the library wraps it, and a sender would retry it...
        await bot.initialize()
    assert isinstance(caught.value.__cause__, RealTelegramCalled)
    assert no_real_telegram == ["api.telegram.org"]
    no_real_telegram.clear()  # ...so the fixture fails any other test that tried, whatever was caught
