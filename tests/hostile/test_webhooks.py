"""Every webhook body, generated: REST, Telegram updates (with the right secret) and Twilio forms (signed
correctly), so they get past authentication and reach the parsers. Never a 5xx, and no turn raises (the
inbox workers log an ERROR when one does; the REST channel answers with the 'trouble' text)."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fakes.twilio_api import inbound_form, status_form
from tests.hostile.app_support import REST_PATH, REST_TOKEN, TROUBLE, LiveApp, random_sender
from tests.hostile.strategies import HOSTILE_TEXT, JSON_VALUES, scaled, typed_payloads

MESSAGES = st.one_of(HOSTILE_TEXT, typed_payloads())


def _no_failures(live: LiveApp) -> None:
    live.drain()
    assert live.failures() == []


# -- REST ------------------------------------------------------------------------------------------------
@scaled(2)
@given(MESSAGES)
@example("1" * 2000)
@example("\x00" * 100)
@example("Rp " + "9" * 40)
def test_rest_messages(live: LiveApp, message: str) -> None:
    response = live.rest(random_sender(), message)
    assert response.status_code == 200, response.text[:200]
    replies = response.json()
    assert replies and all(isinstance(r.get("text"), str) for r in replies)
    assert TROUBLE not in [r["text"] for r in replies], live.failures()[-1:]


@scaled(2)
@given(
    st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(["sender", "message", "metadata"]), JSON_VALUES))
)
@example({"sender": "", "message": "halo"})
@example({"sender": "x" * 129, "message": "halo"})
@example({"sender": "a", "message": "halo", "metadata": []})
def test_rest_bodies(live: LiveApp, body: Any) -> None:
    response = live.client.post(REST_PATH, json=body, headers={"Authorization": f"Bearer {REST_TOKEN}"})
    assert response.status_code < 500
    if response.status_code == 200:
        assert TROUBLE not in [r.get("text") for r in response.json()]


@scaled(4)
@given(st.binary(max_size=300))
def test_rest_raw_bytes(live: LiveApp, body: bytes) -> None:
    response = live.client.post(
        REST_PATH,
        content=body,
        headers={"Authorization": f"Bearer {REST_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500


# -- Telegram ------------------------------------------------------------------------------------------
_update_ids = iter(range(900_000_000, 2_000_000_000))


def _user(chat_id: int, first_name: Any = "Siti") -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": first_name}


@st.composite
def telegram_updates(draw: st.DrawFn) -> dict[str, Any]:
    """Updates of the shapes Telegram sends, with hostile values wherever a user controls the content,
    and sometimes a field of the wrong type (a forger holding the secret, or a Bot API change)."""
    chat_id = draw(st.integers(1, 2**52))
    kind = draw(st.sampled_from(["text", "callback", "edited", "member", "odd"]))
    update: dict[str, Any] = {"update_id": next(_update_ids)}
    message = {
        "message_id": draw(st.integers(1, 2**31)),
        "from": _user(chat_id, draw(HOSTILE_TEXT)),
        "chat": {"id": chat_id, "type": draw(st.sampled_from(["private", "group", "channel", "weird"]))},
        "date": int(time.time()),
        "text": draw(MESSAGES),
    }
    if kind == "text":
        update["message"] = message
    elif kind == "edited":
        update["edited_message"] = message
    elif kind == "callback":
        update["callback_query"] = {
            "id": str(draw(st.integers(0, 2**60))),
            "from": _user(chat_id),
            "chat_instance": "1",
            "data": draw(MESSAGES),
            "message": {**message, "text": "Pilih:"},
        }
    elif kind == "member":
        update["my_chat_member"] = {
            "chat": message["chat"],
            "from": _user(chat_id),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": _user(1)},
            "new_chat_member": {
                "status": draw(st.sampled_from(["kicked", "member", "??"])),
                "user": _user(1),
            },
        }
    else:
        key = draw(st.sampled_from(["message", "callback_query", "my_chat_member", "channel_post", "poll"]))
        update[key] = draw(st.one_of(JSON_VALUES, st.fixed_dictionaries({k: JSON_VALUES for k in message})))
    return update


@scaled(2)
@given(telegram_updates())
def test_telegram_updates(live: LiveApp, update: dict[str, Any]) -> None:
    response = live.telegram_update(update)
    assert response.status_code in (200, 400), response.text[:200]
    _no_failures(live)


@scaled(4)
@given(st.one_of(JSON_VALUES, st.binary(max_size=200)))
@example({"update_id": "1"})
@example({"update_id": 10**30, "message": {}})
@example(b"\xff\xfe")
def test_telegram_bodies_that_are_not_updates(live: LiveApp, body: Any) -> None:
    response = live.telegram_update(body)
    assert 400 <= response.status_code < 500 or response.status_code == 200


# -- Twilio ----------------------------------------------------------------------------------------------
FIELDS = [
    "Body",
    "From",
    "To",
    "WaId",
    "ProfileName",
    "NumMedia",
    "MessageSid",
    "AccountSid",
    "ButtonPayload",
    "ButtonText",
    "MessageType",
    "Latitude",
    "Longitude",
    "MediaUrl0",
    "MediaContentType0",
]


@st.composite
def twilio_forms(draw: st.DrawFn) -> dict[str, str]:
    phone = "+62812" + str(draw(st.integers(10_000_000, 99_999_999)))
    form = inbound_form(
        phone, draw(MESSAGES), profile_name=draw(HOSTILE_TEXT.map(lambda s: s.replace("\x00", "")))
    )
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            form.pop(name, None)
        else:
            form[name] = draw(HOSTILE_TEXT)
    # a form field cannot carry NUL through the signature check on Twilio's side either
    return {k: v.replace("\x00", "") for k, v in form.items()}


@scaled(2)
@given(twilio_forms())
@example({"Body": "halo"})
@example(inbound_form("+6281234567890", "x", media=[("image/jpeg", "https://x")]) | {"NumMedia": "9" * 30})
def test_twilio_forms(live: LiveApp, form: dict[str, str]) -> None:
    response = live.twilio_form(form)
    assert response.status_code in (200, 400), response.text[:200]
    _no_failures(live)


@scaled(4)
@given(
    st.dictionaries(
        st.sampled_from(["MessageSid", "MessageStatus", "ErrorCode", "To", "From", "AccountSid"]),
        HOSTILE_TEXT.map(lambda s: s.replace("\x00", "")),
    )
)
@example(status_form("SM" + "0" * 32, "failed", "+6281234567890", error_code=63016))
def test_twilio_status_callbacks(live: LiveApp, form: dict[str, str]) -> None:
    response = live.twilio_form(form, path="/webhooks/twilio/status")
    assert response.status_code == 204 or 400 <= response.status_code < 500, response.text[:200]
