"""The broadcast worker's lean senders (bot/broadcast/bulk_*.py) against the library senders they stand in
for, on the same local servers: the same requests reach the platform, the same answers become the same
errors, and a lost answer is still told apart from a connection that was never made."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from bot.broadcast import bulk_http
from bot.broadcast.bulk_telegram import BulkTelegramSender
from bot.broadcast.bulk_whatsapp import BulkWhatsAppSender
from bot.broadcast.outcomes import maybe_sent
from bot.channels.telegram_sender import TelegramSender, make_bot
from bot.channels.whatsapp_sender import WhatsAppSender
from bot.outbound import SendError
from bot.settings import load_settings
from flows.replies import Button, Reply
from tests.broadcast.fakes import BroadcastTelegramAPI, BroadcastTwilioAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER

CHAT = "123456789"
PHONE = "+6281234567890"
IMAGE = "https://example.org/kkbc.jpg"
DAFTAR = (Button("Daftar sekarang", "/register"),)
TEMPLATE = "HX" + "b" * 32
QUICK: dict[tuple[str, ...], str] = {("/register",): "HX" + "c" * 32}


async def _no_sleep(_: float) -> None:
    return None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _telegram(kind: type[TelegramSender], url: str, token: str) -> TelegramSender:
    settings = load_settings(environment="test", telegram_bot_token=token, telegram_api_url=url)
    return kind(make_bot(settings), sleep=_no_sleep)


def _whatsapp(kind: type[WhatsAppSender], url: str, token: str = AUTH_TOKEN) -> WhatsAppSender:
    return kind(
        account_sid=ACCOUNT_SID,
        auth_token=token,
        sender=BOT_NUMBER,
        api_url=url,
        status_callback="https://bot.example.org/webhooks/twilio/status",
        quick_replies=QUICK,
    )


@pytest.fixture
async def tg_pair(telegram: BroadcastTelegramAPI) -> AsyncIterator[tuple[TelegramSender, TelegramSender]]:
    pair = tuple(
        _telegram(k, telegram.base_url, telegram.token) for k in (TelegramSender, BulkTelegramSender)
    )
    yield pair[0], pair[1]
    for sender in pair:
        await sender.aclose()


@pytest.fixture
async def wa_pair(twilio: BroadcastTwilioAPI) -> AsyncIterator[tuple[WhatsAppSender, WhatsAppSender]]:
    pair = tuple(_whatsapp(k, twilio.base_url) for k in (WhatsAppSender, BulkWhatsAppSender))
    yield pair[0], pair[1]
    for sender in pair:
        await sender.aclose()


def _tg_calls(api: BroadcastTelegramAPI) -> list[tuple[str, dict[str, Any]]]:
    return [(c.method, c.params) for c in api.calls if c.method != "getMe"]


def _wa_calls(api: BroadcastTwilioAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r.method, r.path, r.params) for r in api.requests]


def _error(exc: SendError) -> tuple[Any, ...]:
    return (
        type(exc),
        exc.code,
        exc.permanent,
        getattr(exc, "reason", None),
        getattr(exc, "retry_after", None),
        maybe_sent(exc),
    )


async def _raised(send: Awaitable[Any]) -> SendError:
    with pytest.raises(SendError) as caught:
        await send
    return caught.value


# -- Telegram ------------------------------------------------------------------------------------------
TG_REPLIES = [
    Reply("Halo Budi, kerja keras bebas cemas!", buttons=DAFTAR),
    Reply("Halo", buttons=(Button("Ya", "ya"), Button("Tidak", "tidak"), Button("Nanti saja", "nanti"))),
    Reply("  Halo dengan spasi  \n"),
    Reply("Halo dengan gambar", image=IMAGE, buttons=DAFTAR),
    Reply("", image=IMAGE),
    Reply("kalimat panjang " * 100, image=IMAGE, buttons=DAFTAR),  # caption too long: photo, then text
    Reply("kata " * 1000),  # over 4096 characters: two messages
]


@pytest.mark.parametrize("reply", TG_REPLIES, ids=range(len(TG_REPLIES)))
async def test_telegram_requests_are_the_librarys(
    telegram: BroadcastTelegramAPI, tg_pair: tuple[TelegramSender, TelegramSender], reply: Reply
) -> None:
    library, bulk = tg_pair
    got = []
    for sender in (library, bulk):
        telegram.reset()
        ids = await sender.send(CHAT, [reply], retry=False)
        got.append((len(ids), _tg_calls(telegram)))
    assert got[1] == got[0]
    assert got[0][0] >= 1


TG_FAILURES: list[dict[str, Any]] = [
    {"status": 429, "retry_after": 3},
    {"status": 403},
    {"status": 403, "description": "Forbidden: user is deactivated"},
    {"status": 400},  # chat not found
    {"status": 400, "description": "Bad Request: message is too long"},
    {"status": 400, "description": "Bad Request: group chat was upgraded", "retry_after": None},
    {"status": 502},
    {"status": 500, "description": "Internal Server Error"},
    {"status": 401, "description": "Unauthorized"},
    {"status": 409, "description": "Conflict"},
    {"status": 0},  # the request arrived, the answer never came: maybe sent
]


async def test_telegram_retries_are_the_librarys(
    telegram: BroadcastTelegramAPI, tg_pair: tuple[TelegramSender, TelegramSender]
) -> None:
    bulk = tg_pair[1]
    telegram.fail("sendMessage", status=429, retry_after=1)
    telegram.fail("sendMessage", status=502)
    assert len(await bulk.send(CHAT, [Reply("Halo")], retry=True)) == 1
    assert [c.status for c in telegram.calls_of("sendMessage", ok_only=False)] == [429, 502, 200]


async def test_telegram_connection_never_made_is_not_in_doubt(telegram: BroadcastTelegramAPI) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/bot"
    errors = []
    for kind in (TelegramSender, BulkTelegramSender):
        sender = _telegram(kind, url, telegram.token)
        sender._initialized = True  # skip getMe: the send itself must meet the closed port
        errors.append(_error(await _raised(sender.send(CHAT, [Reply("Halo")], retry=False))))
        await sender.aclose()
    assert errors[1] == errors[0]
    assert errors[0][-1] is False  # maybe_sent


# -- WhatsApp ------------------------------------------------------------------------------------------
WA_SENDS: list[tuple[str, Any]] = [
    ("send", [Reply("Halo Budi, kerja keras bebas cemas!")]),
    ("send", [Reply("Halo dengan gambar", image=IMAGE)]),
    ("send", [Reply("Halo", buttons=DAFTAR)]),  # an approved quick-reply template
    ("send", [Reply("satu"), Reply("dua")]),
    ("template", {"1": "Budi"}),
    ("template", None),
]


@pytest.mark.parametrize("kind,what", WA_SENDS, ids=range(len(WA_SENDS)))
async def test_twilio_requests_are_the_librarys(
    twilio: BroadcastTwilioAPI, wa_pair: tuple[WhatsAppSender, WhatsAppSender], kind: str, what: Any
) -> None:
    got = []
    for sender in wa_pair:
        twilio.reset()
        if kind == "send":
            ids = await sender.send(PHONE, what, retry=False)
        else:
            ids = [await sender.send_template(PHONE, TEMPLATE, what, retry=False)]
        assert all(i.startswith("SM") for i in ids)
        got.append((len(ids), _wa_calls(twilio)))
    assert got[1] == got[0]


WA_FAILURES: list[dict[str, Any]] = [
    {"code": 63016},
    {"code": 21211},
    {"code": 63003},
    {"code": 21610},
    {"code": 20429},
    {"status": 429},
    {"status": 500},
    {"status": 503, "code": 30001},
    {"code": 21617},
    {"status": 0},  # the request arrived, the answer never came: maybe sent
]


@pytest.mark.parametrize(
    "channel,failure",
    [("telegram", f) for f in TG_FAILURES] + [("whatsapp", f) for f in WA_FAILURES],
    ids=lambda v: v if isinstance(v, str) else "-".join(str(x) for x in v.values()),
)
async def test_errors_are_the_librarys(
    telegram: BroadcastTelegramAPI,
    twilio: BroadcastTwilioAPI,
    tg_pair: tuple[TelegramSender, TelegramSender],
    wa_pair: tuple[WhatsAppSender, WhatsAppSender],
    channel: str,
    failure: dict[str, Any],
) -> None:
    errors = []
    for sender in tg_pair if channel == "telegram" else wa_pair:
        if isinstance(sender, TelegramSender):
            await sender.send(CHAT, [Reply("pemanasan")])  # getMe and a warm connection, as in a campaign
            telegram.fail("sendMessage", **failure)
        else:
            twilio.fail(**failure)
        to = CHAT if channel == "telegram" else PHONE
        errors.append(_error(await _raised(sender.send(to, [Reply("Halo")], retry=False))))
    assert errors[1] == errors[0]


async def test_twilio_stop_wrong_credentials_and_no_connection_are_the_librarys(
    twilio: BroadcastTwilioAPI,
) -> None:
    twilio.unsubscribe(f"whatsapp:{PHONE}")
    cases = [
        (twilio.base_url, AUTH_TOKEN),
        (twilio.base_url, "0" * 32),
        (f"http://127.0.0.1:{_closed_port()}", AUTH_TOKEN),
    ]
    for url, token in cases:
        errors = []
        for kind in (WhatsAppSender, BulkWhatsAppSender):
            sender = _whatsapp(kind, url, token)
            errors.append(_error(await _raised(sender.send(PHONE, [Reply("Halo")], retry=False))))
            await sender.aclose()
        assert errors[1] == errors[0], url
    assert errors[0][-1] is False  # the closed port: never sent


async def test_an_answer_that_never_comes_is_in_doubt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that reads the request and never answers: the read timeout means "maybe sent"."""
    monkeypatch.setattr(bulk_http, "READ_SECONDS", 0.2)

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    senders: list[TelegramSender | WhatsAppSender] = [
        _telegram(BulkTelegramSender, url + "/bot", "123456:TEST-token_abc"),
        _whatsapp(BulkWhatsAppSender, url),
    ]
    try:
        for sender, to in zip(senders, (CHAT, PHONE), strict=True):
            error = await _raised(sender.send(to, [Reply("Halo")], retry=False))
            assert (error.code, error.permanent, maybe_sent(error)) == ("network", False, True)
    finally:
        for sender in senders:
            await sender.aclose()
        server.close()
