"""Injection attempts, control characters, NUL bytes, emoji floods and mixed scripts in every free-text field
a person controls: the chat answers (name, city), campaign names and texts, staff usernames. No 5xx, no
turn that raises, nothing executed or rendered (SQL, Jinja, str.format, %-format, markup), and what is
stored is exactly what was accepted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from bot.admin.api import PREFIX
from storage.models import Campaign, Registration, StaffAccount
from tests.hostile.app_support import TROUBLE, LiveApp, console_client, random_sender
from tests.hostile.strategies import INJECTIONS, ODD_CHARS

NIK = "3201014506900003"
FLOOD = "🙂" * 500 + "👨‍👩‍👧‍👦" * 100
MIXED = "Siti \u202eانیمآ\u202c 日本 Ñoño \u200b\u0301"
HOSTILE_VALUES = [*INJECTIONS, *ODD_CHARS, FLOOD, MIXED, "A\x00B", "\x00" * 50]


def _say(live: LiveApp, sender: str, text: str) -> str:
    response = live.rest(sender, text)
    assert response.status_code == 200, response.text[:300]
    replies = [r["text"] for r in response.json()]
    assert TROUBLE not in replies, live.failures()[-1:]
    return "\n".join(replies)


def test_hostile_answers_at_the_free_text_steps_of_a_registration(live: LiveApp) -> None:
    sender = random_sender()
    _say(live, sender, "sy mau daftar bpjs tk")
    _say(live, sender, "1")  # consent
    for value in HOSTILE_VALUES:  # the name question: each refused or taken, never a crash
        reply = _say(live, sender, value)
        assert "{{" not in reply and "<script>" not in reply.replace(value, "")
        if "NIK" in reply:  # a hostile value was taken as the name: go back to the name question
            _say(live, sender, "ubah nama")
    _say(live, sender, "D'Arcy O'Neil-Siregar")
    for answer in (NIK, "5 juni 1990", "0812 3456 7890"):
        _say(live, sender, answer)
    for value in HOSTILE_VALUES:  # the city question
        _say(live, sender, value)
    for answer in ("Kab. Bogor", "5", "2,5 juta", "2", "3"):
        _say(live, sender, answer)
    receipt = _say(live, sender, "ya")
    assert re.search(r"BPU-\d{4}-\d{6}", receipt), receipt
    db = live.app.state.runtime.db
    with db.session() as session:
        tables = set(inspect(session.get_bind()).get_table_names())
        assert {"members", "registrations", "staff_accounts", "campaigns"} <= tables  # nothing dropped
        rows = session.scalars(select(Registration)).all()
    names = {db.vault.decrypt_text("full_name", r.full_name_enc) for r in rows}
    assert "D'Arcy O'Neil-Siregar" in names
    assert live.failures() == []


@pytest.fixture(scope="module")
def console(live: LiveApp) -> TestClient:
    return console_client(live, "admin")


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_campaign_names_and_texts(live: LiveApp, console: TestClient, value: str) -> None:
    headers = {"Authorization": f"Bearer {live.token('broadcaster')}"}
    body: dict[str, Any] = {
        "name": value[:120] or "x",
        "text": f"Halo {{nama}}! {value}",
        "button": {"title": value[:40] or "x"},
    }
    created = live.client.post(PREFIX + "/campaigns", json=body, headers=headers)
    assert created.status_code in (201, 422), created.text[:300]
    if created.status_code == 422:  # an unknown {field}, an empty name: refused with the reason
        return
    campaign = created.json()
    # stored as typed (names are trimmed of surrounding whitespace)
    assert (campaign["name"], campaign["text"]) == (body["name"].strip(), body["text"])
    preview = live.client.get(
        f"{PREFIX}/campaigns/{campaign['id']}/preview", params={"name": "Budi"}, headers=headers
    )
    assert preview.status_code == 200
    assert "Halo Budi!" in preview.text and "49" not in preview.text.replace(value, "")
    page = console.get(f"/admin/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "onerror=alert" not in page.text.replace(
        "onerror=alert(1)&gt;", ""
    )
    with live.app.state.runtime.db.session() as session:
        stored = session.get(Campaign, campaign["id"])
        assert stored is not None and stored.body == body["text"]


@pytest.mark.parametrize("value", [*INJECTIONS, "ab\x00cd", "ａｄｍｉｎ", "İstanbul", "a" * 61, "日本語"])
def test_staff_usernames(live: LiveApp, console: TestClient, value: str) -> None:
    headers = {"Authorization": f"Bearer {live.token('admin')}"}
    body = {"username": value, "role": "viewer", "password": "panjang-sekali-123"}
    response = live.client.post(PREFIX + "/staff", json=body, headers=headers)
    assert response.status_code in (201, 400, 409, 422), response.text[:300]
    if response.status_code == 201:
        assert re.fullmatch(r"[\w.\-]{2,60}", response.json()["username"])
        page = console.get("/admin/staff")
        assert page.status_code == 200 and "<script>" not in page.text
    with live.app.state.runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(StaffAccount)) >= 3  # nothing deleted
