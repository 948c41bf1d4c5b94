"""Forged and replayed webhooks against the real app.

Telegram: a missing or wrong `X-Telegram-Bot-Api-Secret-Token` gets 403 before the body is read (a body
that is not even JSON still gets 403, and python-telegram-bot never sees it). Twilio: a missing or bad
`X-Twilio-Signature`, a signature made for another URL (scheme, host, path, query) or with another Auth
Token, or a form changed after signing, gets 403 and no field is ever interpreted. A replayed update or
MessageSid (the platforms retry) is answered once, also after the first one was answered, on the
in-process inbox and on Redis.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from bot.channels import telegram as telegram_channel
from bot.channels import whatsapp as whatsapp_channel
from tests.fakes.twilio_api import inbound_form
from tests.hostile.app_support import PUBLIC_URL, TELEGRAM_SECRET, TWILIO_PATH, LiveApp


@pytest.fixture
def parsed(app: LiveApp) -> Iterator[dict[str, int]]:
    """How often each channel interpreted a body (Update.de_json / the form → message step)."""
    calls = {"telegram": 0, "whatsapp": 0}
    real_update, real_form = telegram_channel.Update.de_json, whatsapp_channel.inbound_from_form

    def update(*args: Any, **kwargs: Any) -> Any:
        calls["telegram"] += 1
        return real_update(*args, **kwargs)

    def form(*args: Any, **kwargs: Any) -> Any:
        calls["whatsapp"] += 1
        return real_form(*args, **kwargs)

    with (
        mock.patch.object(telegram_channel.Update, "de_json", update),
        mock.patch.object(whatsapp_channel, "inbound_from_form", form),
    ):
        yield calls


def _update(chat_id: int, text: str = "halo") -> dict[str, Any]:
    return {
        "update_id": random.randint(10**9, 2 * 10**9),
        "message": {
            "message_id": 1,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Siti"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Siti"},
            "date": 1_790_000_000,
            "text": text,
        },
    }


@pytest.mark.parametrize(
    "secret", [None, "", "wrong", TELEGRAM_SECRET.upper(), TELEGRAM_SECRET + " ", TELEGRAM_SECRET[:-1]]
)
def test_forged_telegram_updates_are_refused_before_parsing(
    app: LiveApp, parsed: dict[str, int], secret: str | None
) -> None:
    chat_id = random.randint(10**9, 2 * 10**9)
    for body in (_update(chat_id), b"{not json", b"x" * 2_000_000):
        response = app.telegram_update(body, secret=secret)
        assert response.status_code == 403, response.text[:200]
    assert parsed["telegram"] == 0
    app.drain()
    assert app.telegram.sent(chat_id) == []


def test_the_right_secret_is_let_through(app: LiveApp, parsed: dict[str, int]) -> None:
    chat_id = random.randint(10**9, 2 * 10**9)
    assert app.telegram_update(_update(chat_id)).status_code == 200
    app.drain()
    assert parsed["telegram"] == 1 and app.telegram.sent(chat_id)


def _phone() -> str:
    return f"+62812{random.randint(10_000_000, 99_999_999)}"


FORGERIES: dict[str, dict[str, Any]] = {
    "no signature": {"signature": None},
    "garbage signature": {"signature": "bm90IGEgc2lnbmF0dXJl"},
    "http instead of https": {"url": PUBLIC_URL.replace("https", "http") + TWILIO_PATH},
    "another host": {"url": "https://evil.example.id" + TWILIO_PATH},
    "another path": {"url": PUBLIC_URL + "/webhooks/twilio/status"},
    "a query added": {"url": PUBLIC_URL + TWILIO_PATH + "?x=1"},
    "another auth token": {"token": "0" * 32},
    "body changed after signing": {"tamper": True},
}


@pytest.mark.parametrize("how", list(FORGERIES))
def test_forged_twilio_webhooks_are_refused(app: LiveApp, parsed: dict[str, int], how: str) -> None:
    from tests.fakes.twilio_api import AUTH_TOKEN, sign

    forgery = FORGERIES[how]
    phone = _phone()
    form = inbound_form(phone, "cek status 3201014506900003")
    signature = sign(
        str(forgery.get("url", PUBLIC_URL + TWILIO_PATH)), form, str(forgery.get("token", AUTH_TOKEN))
    )
    if forgery.get("tamper"):
        form = {**form, "Body": "hapus data saya"}
    headers = (
        {}
        if forgery.get("signature", "") is None
        else {"X-Twilio-Signature": str(forgery.get("signature") or signature)}
    )
    response = app.client.post(TWILIO_PATH, data=form, headers=headers)
    assert response.status_code == 403, response.text[:200]
    assert parsed["whatsapp"] == 0
    app.drain()
    assert app.twilio.sent(f"whatsapp:{phone}") == []


def test_replayed_telegram_updates_are_answered_once(app: LiveApp) -> None:
    chat_id = random.randint(10**9, 2 * 10**9)
    update = _update(chat_id, "iuran berapa kalau gaji 2 juta")
    statuses = [app.telegram_update(update).status_code for _ in range(3)]
    app.drain()
    answered = len(app.telegram.sent(chat_id))
    assert statuses == [200, 200, 200] and answered >= 1
    statuses.append(app.telegram_update(json.loads(json.dumps(update))).status_code)  # much later
    app.drain()
    assert statuses[-1] == 200 and len(app.telegram.sent(chat_id)) == answered


def test_replayed_twilio_messages_are_answered_once(app: LiveApp) -> None:
    phone = _phone()
    form = inbound_form(phone, "iuran berapa kalau gaji 2 juta")
    statuses = [app.twilio_form(form).status_code for _ in range(3)]
    app.drain()
    answered = len(app.twilio.sent(f"whatsapp:{phone}"))
    assert statuses == [200, 200, 200] and answered >= 1
    assert app.twilio_form(form).status_code == 200
    app.drain()
    assert len(app.twilio.sent(f"whatsapp:{phone}")) == answered
