"""The WhatsApp sender against the local Twilio Messages API server: what it sends, how it renders buttons,
how it maps and retries Twilio's errors, templates and the 24-hour window, and that it never blocks the
event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.whatsapp_errors import OutsideSessionWindow
from bot.channels.whatsapp_sender import RetryPolicy, WhatsAppSender, build_sender
from bot.outbound import RateLimited, RecipientUnreachable, SendError
from flows.replies import Button, Reply
from storage.db import Database
from storage.repo.subscribers import opt_in
from tests.channels.whatsapp_support import forbid_real_twilio, migrated_sqlite, whatsapp_settings
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, FakeTwilioAPI

PHONE = "+6281234567890"
TO = f"whatsapp:{PHONE}"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MENU = Reply(
    "Mau tahu apa hari ini?",
    (
        Button("Info manfaat", "ask_programs"),
        Button("Hitung iuran", "ask_contribution"),
        Button("Daftar", "register"),
    ),
)


@pytest.fixture(autouse=True)
def no_real_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts = forbid_real_twilio(monkeypatch)
    yield
    assert not attempts, f"the real Twilio API was called: {attempts}"


@pytest.fixture
def api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as server:
        yield server


def _sender(api: FakeTwilioAPI, **kwargs: object) -> WhatsAppSender:
    options: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sender": BOT_NUMBER,
        "api_url": api.base_url,
        "retry": RetryPolicy(attempts=4, base=0.001, cap=0.01),
        "clock": lambda: NOW,
    }
    options.update(kwargs)
    return WhatsAppSender(**options)  # type: ignore[arg-type]


@pytest.fixture
async def sender(api: FakeTwilioAPI) -> AsyncIterator[WhatsAppSender]:
    s = _sender(api)
    yield s
    await s.aclose()


async def test_a_reply_is_created_through_the_messages_api(
    api: FakeTwilioAPI, sender: WhatsAppSender
) -> None:
    sids = await sender.send(PHONE, [Reply("Halo! Saya asisten BPJAMSOSTEK.")])
    assert len(sids) == 1 and sids[0].startswith("SM")
    [request] = api.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.params == {"To": TO, "From": BOT_NUMBER, "Body": "Halo! Saya asisten BPJAMSOSTEK."}
    assert api.message(sids[0])["status"] == "queued"


async def test_buttons_become_a_numbered_list(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    await sender.send(PHONE, [MENU])
    [body] = api.sent_bodies(TO)
    assert body.startswith("Mau tahu apa hari ini?\n\n1. Info manfaat\n2. Hitung iuran\n3. Daftar")
    assert body.endswith("Balas dengan angka pilihan Anda.")


async def test_replies_of_one_turn_are_packed_into_one_message_in_order(
    api: FakeTwilioAPI, sender: WhatsAppSender
) -> None:
    await sender.send(PHONE, [Reply("Pertama."), Reply("Kedua."), MENU])
    [body] = api.sent_bodies(TO)
    assert body.index("Pertama.") < body.index("Kedua.") < body.index("1. Info manfaat")


async def test_long_texts_are_split_under_twilios_limit_in_order(
    api: FakeTwilioAPI, sender: WhatsAppSender
) -> None:
    paragraphs = [f"Paragraf {n}: " + "kata " * 60 for n in range(20)]  # ~6000 characters
    sids = await sender.send(PHONE, [Reply("\n\n".join(paragraphs))])
    bodies = api.sent_bodies(TO)
    assert len(sids) == len(bodies) >= 4
    assert all(len(b) <= 1600 for b in bodies)
    joined = "\n\n".join(bodies)
    assert [joined.index(f"Paragraf {n}:") for n in range(20)] == sorted(
        joined.index(f"Paragraf {n}:") for n in range(20)
    )


async def test_an_image_is_sent_as_media_with_its_caption(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    url = "https://cdn.example.id/kkbc.png"
    await sender.send(PHONE, [Reply("Kerja Keras Bebas Cemas!", image=url), Reply("Ada lagi?")])
    first, second = api.sent(TO)
    assert first["MediaUrl"] == url and first["Body"] == "Kerja Keras Bebas Cemas!"
    assert second["Body"] == "Ada lagi?" and "MediaUrl" not in second


async def test_configured_quick_replies_use_the_approved_content(api: FakeTwilioAPI) -> None:
    quick = {("ask_programs", "ask_contribution", "register"): "HX" + "a" * 32}
    sender = _sender(api, quick_replies=quick)
    try:
        await sender.send(PHONE, [Reply("Sebelumnya:"), MENU, Reply("Tanpa tombol")])
    finally:
        await sender.aclose()
    first, second, third = api.sent(TO)
    assert first["Body"] == "Sebelumnya:"
    assert second["ContentSid"] == "HX" + "a" * 32 and "Body" not in second
    assert json.loads(second["ContentVariables"]) == {"1": MENU.text}
    assert third["Body"] == "Tanpa tombol"


async def test_status_callback_is_requested_when_the_public_url_is_known(api: FakeTwilioAPI) -> None:
    settings = whatsapp_settings(api, public_url="https://bot.example.id/")
    sender = WhatsAppSender.from_settings(settings)
    try:
        await sender.send(PHONE, [Reply("halo")])
    finally:
        await sender.aclose()
    [params] = api.sent(TO)
    assert params["StatusCallback"] == "https://bot.example.id/webhooks/twilio/status"


async def test_rate_limits_and_server_errors_are_retried(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    api.fail(status=429, code=20429)
    api.fail(status=500)
    api.fail(status=503)
    sids = await sender.send(PHONE, [Reply("tetap sampai")])
    assert len(sids) == 1
    assert [r.status for r in api.requests] == [429, 500, 503, 201]
    assert api.sent_bodies(TO) == ["tetap sampai"]


async def test_a_dropped_connection_is_retried(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    api.fail(status=0)
    assert len(await sender.send(PHONE, [Reply("halo")])) == 1
    assert [r.status for r in api.requests] == [0, 201]


async def test_retries_give_up_after_the_policy(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    api.fail(status=500, times=4)
    with pytest.raises(SendError) as caught:
        await sender.send(PHONE, [Reply("halo")])
    assert not caught.value.permanent and caught.value.code == "500"
    assert len(api.requests) == 4
    api.fail(status=429, code=20429, times=10)
    with pytest.raises(RateLimited) as limited:
        await sender.send(PHONE, [Reply("halo")])
    assert limited.value.code == "20429" and limited.value.retry_after > 0


async def test_without_retry_a_rate_limit_is_raised_at_once(
    api: FakeTwilioAPI, sender: WhatsAppSender
) -> None:
    api.fail(status=429, code=20429)
    with pytest.raises(RateLimited):
        await sender.send(PHONE, [Reply("siaran")], retry=False)
    assert len(api.requests) == 1


async def test_outside_the_window_is_a_permanent_63016(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    api.fail(code=63016)
    with pytest.raises(OutsideSessionWindow) as caught:
        await sender.send(PHONE, [Reply("halo lagi")])
    assert caught.value.permanent and caught.value.code == "63016"
    assert len(api.requests) == 1  # not retried


@pytest.mark.parametrize(("code", "reason"), [(21211, "invalid_number"), (21610, "unsubscribed")])
async def test_unreachable_recipients_are_reported(
    api: FakeTwilioAPI, sender: WhatsAppSender, code: int, reason: str
) -> None:
    api.fail(code=code, to=TO)
    with pytest.raises(RecipientUnreachable) as caught:
        await sender.send(PHONE, [Reply("halo")])
    assert caught.value.reason == reason and caught.value.code == str(code)
    assert len(api.requests) == 1


async def test_a_user_who_sent_stop_stays_unreachable(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    api.unsubscribe(TO)
    for _ in range(2):
        with pytest.raises(RecipientUnreachable):
            await sender.send(PHONE, [Reply("promo")])
    assert await sender.send("+6281298765432", [Reply("yang lain tetap")])


async def test_wrong_credentials_are_a_permanent_error(api: FakeTwilioAPI) -> None:
    sender = _sender(api, auth_token="0" * 32)
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(PHONE, [Reply("halo")])
    finally:
        await sender.aclose()
    assert caught.value.permanent and caught.value.code == "20003"


async def test_an_invalid_chat_id_is_refused_before_any_request(
    api: FakeTwilioAPI, sender: WhatsAppSender
) -> None:
    with pytest.raises(ValueError):
        await sender.send("0812345", [Reply("halo")])
    assert api.requests == []


async def test_sending_never_blocks_the_event_loop(api: FakeTwilioAPI, sender: WhatsAppSender) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = sender._create_blocking

    def recording(params: dict[str, object]) -> str:
        seen.append(threading.get_ident())
        return original(params)

    sender._create_blocking = recording  # type: ignore[method-assign]
    api.fail(status=0)  # one failed round trip, then the real one
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        await sender.send(PHONE, [Reply("halo")])
    finally:
        task.cancel()
    assert seen and loop_thread not in seen
    assert ticks > 1  # the loop kept running other tasks during the HTTP calls


async def test_templates_and_the_24_hour_window(api: FakeTwilioAPI, tmp_path: Path) -> None:
    db: Database = migrated_sqlite(tmp_path)
    template = "HX" + "b" * 32
    inside, outside, stranger = "+6281200000001", "+6281200000002", "+6281200000003"
    opt_in(db, channel="whatsapp", chat_id=inside, source="test", at=NOW - timedelta(hours=3))
    opt_in(db, channel="whatsapp", chat_id=outside, source="test", at=NOW - timedelta(hours=30))
    sender = _sender(api, db=db)
    try:
        assert await sender.within_session_window(inside)
        assert not await sender.within_session_window(outside)
        assert not await sender.within_session_window(stranger)
        assert not await sender.within_session_window(inside, NOW + timedelta(hours=23, minutes=55))
        for phone in (inside, outside, stranger):
            await sender.send_proactive(
                phone,
                [Reply("Iuran bulan ini jatuh tempo.")],
                template_sid=template,
                template_variables={"1": "Mar"},
            )
        # Twilio's clock disagrees with ours: a 63016 falls back to the template
        api.fail(code=63016, to=f"whatsapp:{inside}")
        await sender.send_proactive(inside, [Reply("Info KKBC")], template_sid=template)
    finally:
        await sender.aclose()
        db.dispose()
    assert [p.get("Body") for p in api.sent(f"whatsapp:{inside}")] == ["Iuran bulan ini jatuh tempo.", None]
    for phone in (outside, stranger):
        [params] = api.sent(f"whatsapp:{phone}")
        assert params["ContentSid"] == template and "Body" not in params
        assert json.loads(params["ContentVariables"]) == {"1": "Mar"}


async def test_build_sender_follows_the_settings(api: FakeTwilioAPI, tmp_path: Path) -> None:
    assert await build_sender(whatsapp_settings(api, twilio_account_sid=None), object()) is None
    quick = tmp_path / "quick.yml"
    quick.write_text('"ask_programs|ask_contribution|register": HX' + "c" * 32 + "\n", encoding="utf-8")
    sender = await build_sender(whatsapp_settings(api, twilio_quick_replies=quick), object())
    assert sender is not None
    try:
        assert sender.channel == "whatsapp" and sender.sender == BOT_NUMBER
        assert sender.quick_replies == {("ask_programs", "ask_contribution", "register"): "HX" + "c" * 32}
        await sender.send(PHONE, [MENU])
    finally:
        await sender.aclose()
    assert api.sent(TO)[0]["ContentSid"] == "HX" + "c" * 32
    quick.write_text("register: not-a-sid\n", encoding="utf-8")
    with pytest.raises(ValueError):
        await build_sender(whatsapp_settings(api, twilio_quick_replies=quick), object())


def test_the_fake_api_lists_and_fetches_sent_messages_like_twilio(api: FakeTwilioAPI) -> None:
    """What a delivery check reads back through the SDK (list by recipient, newest first; fetch by sid)."""
    from twilio.rest import Client

    client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
    client.api.base_url = api.base_url
    messages = client.api.v2010.account.messages
    first = messages.create(to=TO, from_=BOT_NUMBER, body="satu")
    second = messages.create(to=TO, from_=BOT_NUMBER, body="dua")
    messages.create(to="whatsapp:+6281298765432", from_=BOT_NUMBER, body="orang lain")
    listed = messages.list(to=TO, from_=BOT_NUMBER, limit=20)
    assert [m.sid for m in listed] == [second.sid, first.sid]
    assert listed[0].body == "dua" and listed[0].date_created is not None
    assert messages(first.sid).fetch().body == "satu"
