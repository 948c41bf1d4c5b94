"""What tests/admin/test_authorization.py (the route-by-role matrix) does not cover: a role taken away
works at once on a token and a session already in use, and the REST channel refuses every request
without its bearer token. The matrix itself is not repeated here."""

from __future__ import annotations

import pytest

from bot.admin.api import PREFIX
from tests.hostile.app_support import REST_PATH, REST_TOKEN, LiveApp, console_client


def test_a_demotion_takes_effect_at_once(app: LiveApp) -> None:
    admin = {"Authorization": f"Bearer {app.token('admin')}"}
    created = app.client.post(
        PREFIX + "/staff",
        json={"username": "turun-pangkat", "role": "broadcaster", "password": "panjang-sekali-1"},
        headers=admin,
    )
    assert created.status_code in (201, 409), created.text
    token = app.client.post(PREFIX + "/staff/turun-pangkat/token", headers=admin).json()["token"]
    theirs = {"Authorization": f"Bearer {token}"}
    draft = {"name": "Uji", "text": "Halo {nama}!"}
    assert app.client.post(PREFIX + "/campaigns", json=draft, headers=theirs).status_code == 201
    demoted = app.client.patch(PREFIX + "/staff/turun-pangkat", json={"role": "viewer"}, headers=admin)
    assert demoted.status_code == 200
    assert app.client.post(PREFIX + "/campaigns", json=draft, headers=theirs).status_code == 403
    assert app.client.get(PREFIX + "/campaigns", headers=theirs).status_code == 200  # still a viewer


def test_a_demoted_console_session_loses_the_pages_at_once(app: LiveApp) -> None:
    admin = {"Authorization": f"Bearer {app.token('admin')}"}
    app.client.post(
        PREFIX + "/staff",
        json={"username": "sesi-turun", "role": "broadcaster", "password": "panjang-sekali-1"},
        headers=admin,
    )
    browser = console_client(app, "sesi-turun", "panjang-sekali-1")
    assert browser.get("/admin/campaigns/new").status_code == 200
    app.client.patch(PREFIX + "/staff/sesi-turun", json={"role": "viewer"}, headers=admin)
    assert browser.get("/admin/campaigns/new").status_code == 403
    app.client.patch(PREFIX + "/staff/sesi-turun", json={"active": False}, headers=admin)
    assert browser.get("/admin").status_code == 303  # disabled: back to the login


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        f"Basic {REST_TOKEN}",
        REST_TOKEN,
        f"Bearer {REST_TOKEN}x",
        f"Bearer {REST_TOKEN[:-1]}",
        f"Token {REST_TOKEN}",
    ],
)
def test_the_rest_channel_needs_its_token(app: LiveApp, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = app.client.post(
        REST_PATH, json={"sender": "tanpa-token", "message": "cek status 3201014506900003"}, headers=headers
    )
    assert response.status_code == 401
    assert "3201014506900003" not in response.text
    query = app.client.post(
        REST_PATH + f"?token={REST_TOKEN}", json={"sender": "tanpa-token", "message": "halo"}
    )
    assert query.status_code == 401
