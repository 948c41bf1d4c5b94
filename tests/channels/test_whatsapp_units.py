"""Pure parts of the WhatsApp channel: form parsing, rendering and packing, error mapping, the window rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import FormData
from twilio.base.exceptions import TwilioRestException

from bot.channels.whatsapp_errors import OutsideSessionWindow, map_error, unreachable_reason
from bot.channels.whatsapp_parse import (
    MalformedWebhook,
    address_of,
    inbound_from_form,
    phone_of,
    read_form,
    status_from_form,
)
from bot.channels.whatsapp_render import MAX_BODY, load_quick_replies, pack, render, split
from bot.channels.whatsapp_window import SESSION_WINDOW, window_open
from bot.outbound import RateLimited, RecipientUnreachable, SendError
from flows.replies import Button, Reply
from tests.fakes.twilio_api import inbound_form, message_sid, status_form

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _form(data: dict[str, str]) -> FormData:
    return FormData(list(data.items()))


# -- parsing -----------------------------------------------------------------------------------------------
def test_addresses() -> None:
    assert phone_of("whatsapp:+6281234567890") == "+6281234567890"
    assert phone_of("+6281234567890") is None  # an SMS sender
    assert phone_of("whatsapp:081234567890") is None
    assert phone_of(None) is None
    assert address_of("+6281234567890") == "whatsapp:+6281234567890"
    assert address_of("whatsapp:+6281234567890") == "whatsapp:+6281234567890"
    with pytest.raises(ValueError):
        address_of("0812")


def test_read_form_keeps_repeated_fields_and_blank_values() -> None:
    form = read_form(b"Body=&MediaUrl0=a&MediaUrl0=b&To=whatsapp%3A%2B14155238886")
    assert form["Body"] == ""
    assert form.getlist("MediaUrl0") == ["a", "b"]
    assert form["To"] == "whatsapp:+14155238886"
    with pytest.raises(MalformedWebhook):
        read_form(b"\xff\xfe")
    with pytest.raises(MalformedWebhook):
        read_form(b"&".join(b"f%d=1" % n for n in range(500)))


def test_a_text_message() -> None:
    form = inbound_form("+6285712345678", "  berapa iuran ojol?  ", profile_name="Budi")
    msg = inbound_from_form(_form(form), received_at=NOW)
    assert msg is not None
    assert msg.text == "  berapa iuran ojol?  "  # the engine normalizes; the channel keeps what was sent
    assert msg.conversation_key == "whatsapp:+6285712345678"


def test_an_empty_body_without_media_is_non_text() -> None:
    msg = inbound_from_form(_form(inbound_form("+6285712345678", "   ")), received_at=NOW)
    assert msg is not None and msg.metadata == {"kind": "non_text"} and msg.text == ""


@pytest.mark.parametrize("kind", ["sticker", "contacts", "unsupported", "document"])
def test_message_types_without_text(kind: str) -> None:
    form = {**inbound_form("+6285712345678", "x"), "MessageType": kind}
    msg = inbound_from_form(_form(form), received_at=NOW)
    assert msg is not None and msg.metadata == {"kind": "non_text"}


def test_a_list_choice_carries_its_id() -> None:
    form = {**inbound_form("+6285712345678", "Daftar"), "ListId": "register", "ListTitle": "Daftar"}
    msg = inbound_from_form(_form(form), received_at=NOW)
    assert msg is not None and msg.text == "register"


def test_long_profile_names_are_cut() -> None:
    form = inbound_form("+6285712345678", "halo", profile_name="N" * 500)
    msg = inbound_from_form(_form(form), received_at=NOW)
    assert msg is not None and msg.display_name == "N" * 100


def test_status_callbacks() -> None:
    sid = message_sid()
    update = status_from_form(_form(status_form(sid, "undelivered", "+6281234567890", error_code=63016)))
    assert (update.message_sid, update.status, update.error_code, update.phone) == (
        sid,
        "undelivered",
        "63016",
        "+6281234567890",
    )
    assert status_from_form(_form(status_form(sid, "read", "+6281234567890"))).error_code is None
    for bad in ({"MessageStatus": "exploded"}, {"ErrorCode": "abc"}, {"MessageSid": "x", "SmsSid": "x"}):
        with pytest.raises(MalformedWebhook):
            status_from_form(_form({**status_form(sid, "sent", "+6281234567890"), **bad}))


@given(st.dictionaries(st.sampled_from(sorted(inbound_form("+6281234567890", "x"))), st.text(max_size=40)))
def test_any_field_values_parse_or_raise_malformed(changes: dict[str, str]) -> None:
    form = _form({**inbound_form("+6281234567890", "halo"), **changes})
    try:
        msg = inbound_from_form(form, received_at=NOW)
    except MalformedWebhook:
        return
    assert msg is None or (msg.chat_id == msg.phone and msg.message_id)


# -- rendering -----------------------------------------------------------------------------------------------
def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    text = "a" * 1000 + "\n\n" + "b" * 1000
    assert split(text) == ["a" * 1000, "b" * 1000]
    lines = "\n".join(["c" * 99] * 30)  # 2999 characters, no blank line
    pieces = split(lines)
    assert all(len(p) <= MAX_BODY for p in pieces) and "\n".join(pieces) == lines
    words = " ".join(["kata"] * 800)
    assert " ".join(split(words)) == words
    assert split("x" * 3500) == ["x" * 1600, "x" * 1600, "x" * 300]  # one word longer than the limit


@given(st.lists(st.text(min_size=0, max_size=900), max_size=8))
def test_pack_keeps_every_text_in_order_under_the_limit(texts: list[str]) -> None:
    bodies = pack(texts)
    assert all(0 < len(b) <= MAX_BODY for b in bodies)
    flat = "".join("".join(b.split()) for b in bodies)
    assert flat == "".join("".join(t.split()) for t in texts)


def test_render_groups_text_and_isolates_media_and_templates() -> None:
    quick: dict[tuple[str, ...], str] = {("a", "b"): "HX" + "1" * 32}
    replies = [
        Reply("satu"),
        Reply("pilih", (Button("A", "a"), Button("B", "b"))),
        Reply("dua"),
        Reply("gambar", image="https://x.example/i.png"),
        Reply("tiga", (Button("C", "c"),)),
    ]
    out = render(replies, quick)
    assert [(o.body is not None, o.content_sid, o.media_url) for o in out] == [
        (True, None, None),
        (False, "HX" + "1" * 32, None),
        (True, None, None),
        (True, None, "https://x.example/i.png"),
        (True, None, None),
    ]
    assert out[0].body == "satu"
    assert out[4].body is not None and out[4].body.startswith("tiga\n\n1. C")


def test_quick_replies_file(tmp_path: Path) -> None:
    path = tmp_path / "q.yml"
    path.write_text("'menu_a | menu_b': HXabc\nregister: HXdef\n", encoding="utf-8")
    assert load_quick_replies(path) == {("menu_a", "menu_b"): "HXabc", ("register",): "HXdef"}
    assert load_quick_replies(None) == {}
    for bad in ("- a\n- b\n", "a||b: HX1\n", "a: 12\n"):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(ValueError):
            load_quick_replies(path)


# -- errors --------------------------------------------------------------------------------------------------
def _rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(
        status, "https://api.twilio.com/2010-04-01/Accounts/AC/Messages.json", "m", code
    )


def test_error_mapping() -> None:
    assert isinstance(map_error(_rest(429, 20429), retry_after=2.0), RateLimited)
    assert map_error(_rest(429, None), retry_after=2.0).retry_after == 2.0  # type: ignore[attr-defined]
    server = map_error(_rest(502, None), retry_after=1)
    assert type(server) is SendError and not server.permanent
    assert isinstance(map_error(_rest(400, 63016), retry_after=1), OutsideSessionWindow)
    invalid = map_error(_rest(400, 21211), retry_after=1)
    assert isinstance(invalid, RecipientUnreachable) and invalid.reason == "invalid_number"
    stop = map_error(_rest(400, 21610), retry_after=1)
    assert isinstance(stop, RecipientUnreachable) and stop.reason == "unsubscribed"
    other = map_error(_rest(400, 21617), retry_after=1)
    assert other.permanent and other.code == "21617"
    network = map_error(requests.ConnectionError("reset"), retry_after=1)
    assert not network.permanent and network.code == "network"
    with pytest.raises(TypeError):
        map_error(KeyError("bug"), retry_after=1)
    assert unreachable_reason("63003") == "not_on_whatsapp"
    assert unreachable_reason("30008") is None and unreachable_reason(None) is None


# -- the window ---------------------------------------------------------------------------------------
def test_window_rule() -> None:
    assert window_open(NOW - timedelta(hours=1), NOW)
    assert not window_open(None, NOW)
    assert not window_open(NOW - SESSION_WINDOW, NOW)
    assert not window_open(NOW - SESSION_WINDOW + timedelta(minutes=5), NOW)  # inside the safety margin
    assert not window_open(NOW + timedelta(minutes=1), NOW)  # a clock from the future is not trusted


# -- the guard every WhatsApp test module installs ---------------------------------------------------------
def test_the_guard_refuses_twilio_hosts_and_records_the_attempt() -> None:
    import socket

    from tests.channels.whatsapp_support import RealTwilioCalled, forbid_real_twilio

    with pytest.MonkeyPatch.context() as patch:
        attempts = forbid_real_twilio(patch)
        for host in ("api.twilio.com", b"api.twilio.com", "messaging.twilio.com"):
            with pytest.raises(RealTwilioCalled):
                socket.getaddrinfo(host, 443)
        assert socket.getaddrinfo("127.0.0.1", 80)  # local servers stay reachable
    assert attempts == ["api.twilio.com", "api.twilio.com", "messaging.twilio.com"]
