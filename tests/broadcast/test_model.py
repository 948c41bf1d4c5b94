"""The pure parts: drafts and their validation, per-recipient fields, audiences, quiet hours, what a failed
send means, and how a message looks on each channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import requests
from telegram.error import NetworkError, TimedOut

from bot.broadcast.channels import Content, telegram_preview, whatsapp_mode, whatsapp_preview, whatsapp_reply
from bot.broadcast.config import load_broadcast_config
from bot.broadcast.model import (
    Audience,
    CampaignButton,
    CampaignDraft,
    CampaignInvalid,
    display_name,
    personalize,
)
from bot.broadcast.outcomes import classify, error_code, maybe_sent
from bot.broadcast.quiet import QuietHours
from bot.channels.whatsapp_errors import OutsideSessionWindow
from bot.outbound import RateLimited, RecipientUnreachable, SendError

WIB = ZoneInfo("Asia/Jakarta")
TEMPLATE = "HX" + "0123456789abcdef" * 2


def wib(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=WIB)


# -- drafts ------------------------------------------------------------------------------------------------
def test_a_good_draft_has_no_problems() -> None:
    draft = CampaignDraft(
        name="KKBC Pasar Minggu",
        text="Halo {nama}, mulai Rp16.800 sebulan sudah terlindungi.",
        image_url="https://example.org/kkbc.jpg",
        button=CampaignButton("Daftar sekarang"),
        template_sid=TEMPLATE,
        template_variables={"1": "{nama}"},
        audience=Audience(channels=("whatsapp",), registration=("none",)),
    )
    assert draft.problems() == []
    assert draft.check() is draft
    assert draft.button is not None and draft.button.payload == "/register"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"name": " "}, "needs a name"),
        ({"text": ""}, "text is empty"),
        ({"text": "x" * 1001}, "longer than 1000"),
        ({"text": "Halo {nama}, {alamat}"}, "unknown field {alamat}"),
        ({"text": "{nama} " * 60}, "passes 1024 characters"),
        ({"image_url": "file:///etc/passwd"}, "http(s) URL"),
        ({"button": CampaignButton("")}, "button title"),
        ({"button": CampaignButton("Daftar", payload="register")}, "/intent"),
        ({"template_sid": "HX123"}, "ContentSid"),
        ({"template_variables": {"1": "{nama}"}}, "need a template"),
        ({"template_sid": TEMPLATE, "template_variables": {"a": "x"}}, "must be a number"),
        ({"audience": Audience(channels=("sms",))}, "unknown channel"),
        ({"audience": Audience(registration=("paid",))}, "unknown registration status"),
        ({"audience": Audience(subscribed_since=datetime(2026, 1, 1))}, "time zone"),
    ],
)
def test_problems_are_named(changes: dict[str, Any], problem: str) -> None:
    base = CampaignDraft(name="n", text="t")
    draft = replace(base, **changes)
    with pytest.raises(CampaignInvalid) as caught:
        draft.check()
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_draft_from_a_file_mapping() -> None:
    draft = CampaignDraft.from_mapping(
        {
            "name": "Desa Wedani",
            "text": "Halo {nama}!",
            "image": "https://example.org/a.png",
            "button": "Daftar sekarang",
            "template": {"sid": TEMPLATE, "variables": {1: "{nama}"}},
            "audience": {
                "channel": "telegram",
                "region": ["Gresik"],
                "subscribed_since": "2026-01-01T00:00:00+07:00",
            },
        }
    )
    assert draft.check().button == CampaignButton("Daftar sekarang", "/register")
    assert draft.template_variables == {"1": "{nama}"}
    assert draft.audience == Audience(
        channels=("telegram",),
        regions=("Gresik",),
        subscribed_since=datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=7),
    )


def test_audience_round_trips_through_json() -> None:
    audience = Audience(
        channels=("telegram", "whatsapp"),
        regions=("Kabupaten Bogor",),
        occupations=("petani",),
        registration=("none", "active"),
        subscribed_since=datetime(2026, 1, 5, tzinfo=WIB),
        sources=("pasar",),
    )
    assert Audience.from_json(audience.to_json()) == audience
    assert Audience.from_json({}) == Audience()


# -- per-recipient fields ------------------------------------------------------------------------------------
def test_the_name_when_known_else_a_warm_greeting() -> None:
    assert personalize("Halo {nama}, apa kabar?", name="SITI RAHMAWATI", fallback="Sobat Pekerja") == (
        "Halo Siti Rahmawati, apa kabar?"
    )
    assert personalize("Halo { Nama }!", name=None, fallback="Sobat Pekerja") == "Halo Sobat Pekerja!"
    assert personalize("Tanpa sapaan.", name="Budi", fallback="x") == "Tanpa sapaan."


def test_long_names_keep_whole_words() -> None:
    assert (
        display_name("muhammad rizky aditya pratama nugroho saputra wibowo")
        == "Muhammad Rizky Aditya Pratama Nugroho"
    )
    assert display_name("  ") is None


# -- quiet hours --------------------------------------------------------------------------------------------
def test_quiet_hours_wrap_past_midnight() -> None:
    quiet = QuietHours(time(21), time(7), WIB)
    assert not quiet.is_quiet(wib(20, 59))
    assert quiet.is_quiet(wib(21, 0))
    assert quiet.is_quiet(wib(3, 0))
    assert not quiet.is_quiet(wib(7, 0))
    assert quiet.ends_at(wib(22, 30)) == wib(7, 0, day=3)
    assert quiet.ends_at(wib(2, 0)) == wib(7, 0)
    assert quiet.ends_at(wib(12, 0)) == wib(12, 0)
    # the zone is the campaign's, whatever the server's: 14:30 UTC is 21:30 WIB
    assert quiet.is_quiet(datetime(2026, 3, 2, 14, 30, tzinfo=UTC))


def test_quiet_hours_within_a_day_and_switched_off() -> None:
    lunch = QuietHours(time(12), time(13), WIB)
    assert lunch.is_quiet(wib(12, 30)) and not lunch.is_quiet(wib(13, 0))
    off = QuietHours(time(0), time(0), WIB)
    assert not off.enabled and not off.is_quiet(wib(3))


def test_quiet_hours_default_to_21_to_7_wib() -> None:
    quiet = QuietHours.from_config(load_broadcast_config(_env_file=None))
    assert (quiet.start, quiet.end, str(quiet.zone)) == (time(21), time(7), "Asia/Jakarta")


# -- what a failed send means -------------------------------------------------------------------------------
CONFIG = load_broadcast_config(max_attempts=3, backoff_base_seconds=5, in_doubt_grace_seconds=60)
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _raised(error: SendError, cause: BaseException) -> SendError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise error from inner
    except SendError as outer:
        return outer


def test_blocked_and_invalid_numbers_mark_the_subscriber_unreachable() -> None:
    blocked = classify(RecipientUnreachable("blocked", code="403"), attempts=0, config=CONFIG, now=NOW)
    assert (blocked.final, blocked.code, blocked.unreachable, blocked.opted_out) == (
        True,
        "403:blocked",
        "blocked",
        None,
    )
    invalid = classify(
        RecipientUnreachable("invalid_number", code="21211"), attempts=0, config=CONFIG, now=NOW
    )
    assert (invalid.code, invalid.unreachable) == ("21211:invalid_number", "invalid_number")
    stop = classify(RecipientUnreachable("unsubscribed", code="21610"), attempts=0, config=CONFIG, now=NOW)
    assert (stop.unreachable, stop.opted_out) == (None, "whatsapp_stop")


def test_permanent_errors_fail_and_transient_ones_back_off() -> None:
    assert classify(SendError("bad", code="400", permanent=True), attempts=0, config=CONFIG, now=NOW).final
    assert error_code(OutsideSessionWindow()) == "63016"
    first = classify(SendError("502", code="502"), attempts=0, config=CONFIG, now=NOW)
    second = classify(SendError("502", code="502"), attempts=1, config=CONFIG, now=NOW)
    assert not first.final and not second.final and not first.maybe_sent
    assert first.retry_at is not None and second.retry_at is not None
    assert NOW + timedelta(seconds=4) <= first.retry_at <= NOW + timedelta(seconds=6)
    assert NOW + timedelta(seconds=8) <= second.retry_at <= NOW + timedelta(seconds=12)
    last = classify(SendError("502", code="502"), attempts=2, config=CONFIG, now=NOW)
    assert last.final and last.code == "502"


def test_a_lost_answer_may_hide_a_sent_message() -> None:
    read_timeout = _raised(
        SendError("x", code="network"), _raised_plain(TimedOut(), httpx.ReadTimeout("slow"))
    )
    pool_timeout = _raised(
        SendError("x", code="network"), _raised_plain(TimedOut(), httpx.PoolTimeout("full"))
    )
    refused = _raised(
        SendError("x", code="network"), _raised_plain(NetworkError("c"), httpx.ConnectError("refused"))
    )
    dropped = _raised(SendError("x", code="network"), requests.ConnectionError("Connection aborted"))
    bad_gateway = _raised(SendError("x", code="network"), NetworkError("Bad Gateway"))
    assert maybe_sent(read_timeout) and maybe_sent(dropped)
    assert not maybe_sent(pool_timeout) and not maybe_sent(refused) and not maybe_sent(bad_gateway)
    doubtful = classify(read_timeout, attempts=0, config=CONFIG, now=NOW)
    assert doubtful.maybe_sent and doubtful.retry_at is not None
    assert doubtful.retry_at >= NOW + timedelta(seconds=60)  # not before the attempt can have finished
    assert classify(read_timeout, attempts=2, config=CONFIG, now=NOW).code == "in_doubt"


def _raised_plain(error: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise error from inner
    except BaseException as outer:
        return outer


def test_rate_limited_is_not_a_failure_of_the_recipient() -> None:
    assert isinstance(RateLimited(3), SendError) and not RateLimited(3).permanent


# -- how it looks -------------------------------------------------------------------------------------------
MESSAGE = Content(
    text="Halo {nama}!",
    image_url="https://example.org/kkbc.jpg",
    button=CampaignButton("Daftar sekarang"),
    template_sid=TEMPLATE,
    template_variables={"1": "{nama}"},
).personal("budi santoso", "Sobat Pekerja")
HINT = 'Balas "{title}" untuk mulai.'


def test_telegram_gets_a_photo_with_caption_and_an_inline_button() -> None:
    view = telegram_preview(MESSAGE)
    assert view == {
        "kind": "photo",
        "text": "Halo Budi Santoso!",
        "image": "https://example.org/kkbc.jpg",
        "buttons": [{"title": "Daftar sekarang", "payload": "/register"}],
    }


def test_whatsapp_inside_the_window_gets_text_with_what_to_answer() -> None:
    reply = whatsapp_reply(MESSAGE, {}, HINT)
    assert reply.text == 'Halo Budi Santoso!\n\nBalas "Daftar sekarang" untuk mulai.' and not reply.buttons
    view = whatsapp_preview(MESSAGE, "text", {}, HINT)
    assert (view["kind"], view["image"]) == ("media", "https://example.org/kkbc.jpg")
    quick = whatsapp_preview(MESSAGE, "text", {("/register",): TEMPLATE}, HINT)
    assert (quick["kind"], quick["template"], quick["text"]) == (
        "quick_reply",
        TEMPLATE,
        "Halo Budi Santoso!",
    )


def test_whatsapp_outside_the_window_gets_the_template() -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert whatsapp_mode(now - timedelta(hours=2), MESSAGE, now) == "text"
    assert whatsapp_mode(now - timedelta(hours=30), MESSAGE, now) == "template"
    assert whatsapp_mode(None, MESSAGE, now) == "template"
    no_template = Content(text="Halo").personal(None, "Sobat")
    assert whatsapp_mode(None, no_template, now) == "none"
    assert whatsapp_preview(MESSAGE, "template", {}, HINT) == {
        "kind": "template",
        "template": TEMPLATE,
        "variables": {"1": "Budi Santoso"},
    }
