"""Real-shaped Telegram updates → InboundMessage (bot/channels/telegram_updates.py)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.channels.telegram_updates import command_text, inbound_from_update
from bot.messages import InboundMessage
from tests.channels.telegram_factories import Updates

CHAT = 510000001


def parse(payload: dict[str, Any]) -> InboundMessage | None:
    return inbound_from_update(Update.de_json(payload, None))


def test_a_text_message(updates: Updates) -> None:
    payload = updates.text(CHAT, "iuran ojol berapa ya kak")
    msg = parse(payload)
    assert msg is not None
    assert (msg.channel, msg.chat_id, msg.text) == ("telegram", str(CHAT), "iuran ojol berapa ya kak")
    assert msg.message_id == str(payload["update_id"])
    assert msg.display_name == "Siti Rahma" and msg.start_param is None and msg.phone is None
    assert msg.received_at is not None and msg.received_at.tzinfo is not None
    assert msg.metadata == {}


def test_start_with_a_deep_link_parameter_records_the_campaign_source(updates: Updates) -> None:
    msg = parse(updates.command(CHAT, "start", "kkbc_tanahabang"))
    assert msg is not None and msg.text == "/start" and msg.start_param == "kkbc_tanahabang"
    plain = parse(updates.command(CHAT, "start"))
    assert plain is not None and plain.text == "/start" and plain.start_param is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/menu", ("/menu", None)),
        ("/bantuan", ("/help", None)),
        ("/help", ("/help", None)),
        ("/stop", ("/unsubscribe", None)),
        ("/STOP", ("/unsubscribe", None)),
        ("/menu@jamsosbot_test_bot", ("/menu", None)),
        ("/start@jamsosbot_test_bot kkbc_tanahabang", ("/start", "kkbc_tanahabang")),
        ("/start <script>", ("/start", None)),  # not a valid deep-link parameter: dropped
        ("/daftar", ("daftar", None)),
        ("/subscribe", ("/subscribe", None)),
        ("/check_status", ("/check_status", None)),
        ("/cek_status 3201014506900003", ("cek status 3201014506900003", None)),
        ("stop", ("stop", None)),
        ("halo /menu", ("halo /menu", None)),
    ],
)
def test_commands(typed: str, expected: tuple[str, str | None]) -> None:
    assert command_text(typed) == expected


def test_a_button_press_carries_its_payload_and_query_id(updates: Updates) -> None:
    payload = updates.callback(CHAT, '/choose{"value":"jkk_jkm"}')
    msg = parse(payload)
    assert msg is not None
    assert msg.text == '/choose{"value":"jkk_jkm"}' and msg.chat_id == str(CHAT)
    assert msg.metadata == {"callback_query_id": payload["callback_query"]["id"]}
    assert msg.message_id == str(payload["update_id"])


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "location"])
def test_non_text_messages_are_marked(updates: Updates, kind: str) -> None:
    msg = parse(getattr(updates, kind)(CHAT))
    assert msg is not None and msg.metadata == {"kind": "non_text"} and msg.text == ""


def test_the_users_own_contact_gives_the_phone(updates: Updates) -> None:
    msg = parse(updates.contact(CHAT, "6281234567890"))
    assert msg is not None and msg.text == "+6281234567890" and msg.phone == "+6281234567890"
    other = parse(updates.contact(CHAT, "6281234567890", own=False))
    assert other is not None and other.metadata == {"kind": "non_text"} and other.phone is None


def test_blocking_the_bot_is_reported(updates: Updates) -> None:
    msg = parse(updates.blocked(CHAT))
    assert msg is not None and msg.metadata == {"kind": "blocked"} and msg.chat_id == str(CHAT)


def test_groups_and_edits_are_ignored(updates: Updates) -> None:
    assert parse(updates.text(-100123, "halo", chat_type="supergroup")) is None
    assert parse(updates.edited(CHAT, "halo")) is None
    assert parse({"update_id": 5}) is None
