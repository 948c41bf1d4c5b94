"""The Twilio WhatsApp webhook: signatures checked against the exact public URL before any field is used,
real-shaped payloads turned into inbox messages, duplicates recorded once, malformed bodies 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.channels.whatsapp import WindowRefresher
from bot.inbox import MemoryInbox
from bot.inbox_workers import KIND_NON_TEXT
from bot.texts import text as bot_text
from storage.db import Database
from storage.repo.subscribers import get_subscriber, opt_in
from tests.channels.whatsapp_support import (
    client_for,
    fixed_clock,
    forbid_real_twilio,
    migrated_sqlite,
    post_signed,
    webhook_app,
    whatsapp_settings,
)
from tests.fakes.twilio_api import inbound_form, sign

WEBHOOK = "/webhooks/twilio/webhook"
PHONE = "+6281234567890"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_real_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts = forbid_real_twilio(monkeypatch)
    yield
    assert not attempts, f"the real Twilio API was called: {attempts}"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = migrated_sqlite(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def inbox() -> MemoryInbox:
    return MemoryInbox()


@asynccontextmanager
async def _serve(db: Database, inbox: MemoryInbox, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with the WhatsApp routes; background window refreshes finish before it closes."""
    app = webhook_app(whatsapp_settings(None, **settings), db, inbox, fixed_clock(NOW))
    async with client_for(app) as http:
        yield http
    refresher = getattr(app.state, "whatsapp_windows", None)
    if refresher is not None:
        await refresher.aclose()


@pytest.fixture
async def client(db: Database, inbox: MemoryInbox) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(db, inbox) as http:
        yield http


async def _queued(inbox: MemoryInbox) -> list[str]:
    """The texts waiting in the inbox, claiming each chat (test-only drain)."""
    texts = []
    while (claim := await inbox.claim(wait=0)) is not None:
        while claim is not None:
            texts.append(claim.message.text)
            claim = await inbox.done(claim)
    return texts


async def test_valid_signature_is_acknowledged_with_empty_twiml_and_queued(
    client: httpx.AsyncClient, inbox: MemoryInbox
) -> None:
    form = inbound_form(PHONE, "halo min, mau daftar bpjs", profile_name="Siti Aminah")
    response = await post_signed(client, WEBHOOK, form)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    claim = await inbox.claim(wait=0)
    assert claim is not None
    msg = claim.message
    assert (msg.channel, msg.chat_id, msg.phone, msg.text) == ("whatsapp", PHONE, PHONE, form["Body"])
    assert msg.message_id == form["MessageSid"]
    assert msg.display_name == "Siti Aminah"
    assert msg.received_at == NOW
    assert msg.metadata == {}


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "",  # empty
        "not-a-signature",
        sign("http://testserver/webhooks/twilio/webhook", {"Body": "something else"}),  # another body's
    ],
)
async def test_missing_or_invalid_signature_is_403_and_nothing_queued(
    client: httpx.AsyncClient, inbox: MemoryInbox, signature: str | None
) -> None:
    form = inbound_form(PHONE, "halo")
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = await client.post(WEBHOOK, data=form, headers=headers)
    assert response.status_code == 403
    assert await inbox.waiting() == 0


async def test_signature_with_another_token_is_403(client: httpx.AsyncClient, inbox: MemoryInbox) -> None:
    response = await post_signed(client, WEBHOOK, inbound_form(PHONE, "halo"), token="0" * 32)
    assert response.status_code == 403
    assert await inbox.waiting() == 0


async def test_signature_for_another_url_is_403(client: httpx.AsyncClient, inbox: MemoryInbox) -> None:
    form = inbound_form(PHONE, "halo")
    for url in (
        "http://testserver/webhooks/twilio/other",
        "https://testserver/webhooks/twilio/webhook",  # the scheme is part of the URL
        "http://evil.example/webhooks/twilio/webhook",
        "http://testserver/webhooks/twilio/webhook?x=1",
    ):
        response = await post_signed(client, WEBHOOK, form, signed_url=url)
        assert response.status_code == 403, url
    assert await inbox.waiting() == 0


async def test_a_tampered_field_breaks_the_signature(client: httpx.AsyncClient, inbox: MemoryInbox) -> None:
    form = inbound_form(PHONE, "halo")
    signature = sign("http://testserver" + WEBHOOK, form)
    forged = {**form, "From": "whatsapp:+6289999999999"}
    response = await client.post(WEBHOOK, data=forged, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert await inbox.waiting() == 0


async def test_behind_a_proxy_the_public_url_is_what_counts(db: Database, inbox: MemoryInbox) -> None:
    public = "https://bot.bpjs.example.id/jamsos"
    async with _serve(db, inbox, public_url=public) as http:
        form = inbound_form(PHONE, "halo")
        # Twilio signed the public URL; the app itself was reached as http://testserver/...
        ok = await post_signed(http, WEBHOOK, form, signed_url=public + WEBHOOK)
        assert ok.status_code == 200
        # the internal URL is not what Twilio called, so a signature for it is refused
        internal = await post_signed(http, WEBHOOK, inbound_form(PHONE, "halo lagi"))
        assert internal.status_code == 403
        # the query string is part of what Twilio signs
        query = await http.post(
            WEBHOOK + "?src=kkbc",
            data=(form3 := inbound_form(PHONE, "tiga")),
            headers={"X-Twilio-Signature": sign(public + WEBHOOK + "?src=kkbc", form3)},
        )
        assert query.status_code == 200
    assert await _queued(inbox) == ["halo", "tiga"]


async def test_public_url_with_port_validates_either_way(db: Database, inbox: MemoryInbox) -> None:
    # Twilio signs https URLs sometimes with, sometimes without the default port; the SDK accepts both.
    async with _serve(db, inbox, public_url="https://bot.example.id") as http:
        form = inbound_form(PHONE, "halo")
        response = await post_signed(http, WEBHOOK, form, signed_url="https://bot.example.id:443" + WEBHOOK)
        assert response.status_code == 200


async def test_whatsapp_not_configured_refuses_everything(db: Database, inbox: MemoryInbox) -> None:
    async with _serve(db, inbox, twilio_auth_token=None) as http:
        response = await post_signed(http, WEBHOOK, inbound_form(PHONE, "halo"))
    assert response.status_code == 403
    assert await inbox.waiting() == 0


async def test_same_message_sid_twice_is_queued_once(client: httpx.AsyncClient, inbox: MemoryInbox) -> None:
    form = inbound_form(PHONE, "cek status")
    first = await post_signed(client, WEBHOOK, form)
    again = await post_signed(client, WEBHOOK, form)  # Twilio retried the delivery
    assert first.status_code == again.status_code == 200
    assert await _queued(inbox) == ["cek status"]


async def test_two_messages_of_one_user_stay_in_order(client: httpx.AsyncClient, inbox: MemoryInbox) -> None:
    for text in ("satu", "dua", "tiga"):
        assert (await post_signed(client, WEBHOOK, inbound_form(PHONE, text))).status_code == 200
    assert await _queued(inbox) == ["satu", "dua", "tiga"]


@pytest.mark.parametrize(
    "extra",
    [
        {"media": [("image/jpeg", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1")]},
        {"media": [("audio/ogg", "https://api.twilio.com/Media/ME2")]},
        {"location": (-6.2, 106.8)},
    ],
    ids=["photo", "voice-note", "location"],
)
async def test_media_and_location_are_marked_non_text(
    client: httpx.AsyncClient, inbox: MemoryInbox, extra: dict[str, object]
) -> None:
    form = inbound_form(PHONE, "ini ktp saya" if "media" in extra else "", **extra)  # type: ignore[arg-type]
    assert (await post_signed(client, WEBHOOK, form)).status_code == 200
    claim = await inbox.claim(wait=0)
    assert claim is not None
    assert claim.message.metadata == {"kind": KIND_NON_TEXT}


async def test_quick_reply_button_press_carries_its_payload(
    client: httpx.AsyncClient, inbox: MemoryInbox
) -> None:
    form = inbound_form(PHONE, "Daftar BPU", button=("Daftar BPU", "register"))
    assert (await post_signed(client, WEBHOOK, form)).status_code == 200
    claim = await inbox.claim(wait=0)
    assert claim is not None and claim.message.text == "register"


async def test_an_sms_on_the_same_number_is_acknowledged_and_ignored(
    client: httpx.AsyncClient, inbox: MemoryInbox
) -> None:
    form = inbound_form(PHONE, "halo")
    form["From"] = PHONE  # an SMS: no whatsapp: prefix
    response = await post_signed(client, WEBHOOK, form)
    assert response.status_code == 200
    assert await inbox.waiting() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"MessageSid": "", "SmsMessageSid": "", "SmsSid": ""},
        {"MessageSid": "nonsense", "SmsMessageSid": "nonsense"},
        {"From": ""},
        {"From": "whatsapp:0812345"},
        {"From": "whatsapp:+62 812 3456"},
        {"NumMedia": "banyak"},
    ],
)
async def test_signed_but_malformed_payloads_are_400(
    client: httpx.AsyncClient, inbox: MemoryInbox, change: dict[str, str]
) -> None:
    form = {**inbound_form(PHONE, "halo"), **change}
    response = await post_signed(client, WEBHOOK, form)
    assert response.status_code == 400
    assert await inbox.waiting() == 0


async def test_bodies_that_are_not_forms_are_4xx_never_500(client: httpx.AsyncClient) -> None:
    signature = sign("http://testserver" + WEBHOOK, {})
    form_type = "application/x-www-form-urlencoded"
    cases = [
        (b'{"Body": "halo"}', "application/json"),
        (b"\xff\xfe\x00garbage", form_type),
        (b"a=1&&&=&b", form_type),
        (b"x=" + b"a" * 70_000, form_type),
        (b"", form_type),
        (b"Body=halo", "text/plain"),
    ]
    for content, content_type in cases:
        headers = {"X-Twilio-Signature": signature, "Content-Type": content_type}
        response = await client.post(WEBHOOK, content=content, headers=headers)
        assert 400 <= response.status_code < 500, (content[:30], response.status_code)


async def test_inbox_failure_asks_the_user_to_send_again(db: Database) -> None:
    class BrokenInbox(MemoryInbox):
        async def submit(self, msg: object) -> bool:
            raise ConnectionError("redis down")

    async with _serve(db, BrokenInbox()) as http:
        response = await post_signed(http, WEBHOOK, inbound_form(PHONE, "halo"))
    # Twilio does not retry an inbound webhook: its TwiML answer tells the user instead of silence
    assert response.status_code == 200 and "<Message>" in response.text
    assert bot_text("unreceived") in response.text


async def test_an_inbound_message_refreshes_a_subscribers_window(db: Database, inbox: MemoryInbox) -> None:
    earlier = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    opt_in(db, channel="whatsapp", chat_id=PHONE, source="test", at=earlier)
    async with _serve(db, inbox) as http:
        assert (await post_signed(http, WEBHOOK, inbound_form(PHONE, "menu"))).status_code == 200
    subscriber = get_subscriber(db, channel="whatsapp", chat_id=PHONE)
    assert subscriber is not None and subscriber.last_inbound_at == NOW


async def test_a_busy_user_refreshes_the_window_once_per_interval(db: Database) -> None:
    refresher = WindowRefresher(every=300.0)
    try:
        assert refresher.refresh(db, PHONE, NOW)
        assert not refresher.refresh(db, PHONE, NOW)  # moments later: already fresh
        assert refresher.refresh(db, "+6281298765432", NOW)  # another user
        refresher.every = 0.0
        assert refresher.refresh(db, PHONE, NOW)  # after the interval
    finally:
        await refresher.aclose()


async def test_the_phone_number_is_never_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    form = inbound_form(PHONE, "nik saya 3201014506900003")
    await post_signed(client, WEBHOOK, form)
    await post_signed(client, WEBHOOK, {**form, "From": "whatsapp:+62 81"})  # malformed: logged
    await client.post(WEBHOOK, data=form, headers={"X-Twilio-Signature": "bad"})  # forged: logged
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage()
        assert PHONE not in text and PHONE[1:] not in text and "3201014506900003" not in text
