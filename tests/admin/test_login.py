"""Console login, sessions, logout, cookies, rate limiting and API tokens, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.admin import staff as accounts
from bot.admin.sessions import COOKIE
from storage.models import AuditEntry
from tests.admin.conftest import PASSWORD, Console, SignedIn, start_console

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _actions(console: Console, actor: str) -> list[str]:
    with console.db.session() as session:
        query = select(AuditEntry.action).where(AuditEntry.actor == actor).order_by(AuditEntry.id)
        return list(session.scalars(query))


def _login_form(client: httpx.Client) -> str:
    page = client.get("/admin/login")
    match = _FIELD.search(page.text)
    assert page.status_code == 200 and match
    return match[1]


def test_login_sets_a_locked_down_session_cookie(console: Console) -> None:
    client = console.anonymous()
    token = _login_form(client)
    response = client.post(
        "/admin/login",
        data={"username": "Viewer", "password": PASSWORD, "csrf_token": token, "next": "/admin/funnel"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/funnel"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
    attrs = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attrs
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attrs  # PUBLIC_URL is not https here (see the https test below)
    assert client.get("/admin/funnel").status_code == 200
    assert "login" in _actions(console, "viewer")


def test_wrong_password_and_unknown_user_get_the_same_answer(console: Console) -> None:
    client = console.anonymous()
    token = _login_form(client)
    wrong = client.post(
        "/admin/login", data={"username": "viewer", "password": "salah-sekali-123", "csrf_token": token}
    )
    unknown = client.post(
        "/admin/login", data={"username": "siapa", "password": PASSWORD, "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in wrong.text
    assert "Nama pengguna atau kata sandi salah." in unknown.text
    assert COOKIE not in client.cookies
    assert "login.failed" in _actions(console, "siapa")


def test_login_without_its_csrf_cookie_is_refused(console: Console) -> None:
    client = console.anonymous()
    token = _login_form(client)
    stranger = console.anonymous()  # a cross-site form: the right field, but not this browser's cookie
    response = stranger.post(
        "/admin/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403
    assert COOKIE not in stranger.cookies


def test_open_redirects_are_refused(console: Console) -> None:
    client = console.anonymous()
    token = _login_form(client)
    response = client.post(
        "/admin/login",
        data={
            "username": "viewer",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/admin",
        },
    )
    assert response.headers["location"] == "/admin"


def test_logout_kills_the_session_even_for_a_copied_cookie(console: Console) -> None:
    me = console.login("viewer")
    copied = console.anonymous()
    copied.cookies.set(COOKIE, me.client.cookies[COOKIE], domain="127.0.0.1", path="/admin")
    assert copied.get("/admin").status_code == 200
    assert me.post("/admin/logout").status_code == 303
    assert me.client.get("/admin").status_code == 303
    gone = copied.get("/admin")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/admin/login")
    assert "logout" in _actions(console, "viewer")


def test_logout_needs_the_csrf_token(console: Console) -> None:
    me = console.login("viewer")
    assert me.post("/admin/logout", csrf=False).status_code == 403
    assert me.client.get("/admin").status_code == 200  # still signed in


def test_each_login_gets_a_new_session_id(console: Console) -> None:
    client = console.anonymous()
    client.cookies.set(
        COOKIE, "planted-by-an-attacker", domain="127.0.0.1", path="/admin"
    )  # session fixation attempt
    token = _login_form(client)
    response = client.post(
        "/admin/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    issued = client.cookies.get(COOKIE, path="/admin")
    assert issued and issued != "planted-by-an-attacker"
    again = console.login("viewer")
    assert again.client.cookies[COOKIE] != issued


def test_a_disabled_account_is_locked_out_at_once(console: Console) -> None:
    accounts.add_staff(console.db, actor="test", username="sementara", password=PASSWORD, role="broadcaster")
    me = console.login("sementara")
    token = accounts.issue_token(console.db, actor="test", username="sementara")
    bearer = {"Authorization": f"Bearer {token}"}
    assert console.anonymous().get("/admin/api/v1/me", headers=bearer).status_code == 200
    admin = console.login("admin")
    assert admin.post("/admin/staff/sementara/active", {"active": "false"}).status_code == 303
    assert me.client.get("/admin").status_code == 303
    assert console.anonymous().get("/admin/api/v1/me", headers=bearer).status_code == 401
    client = console.anonymous()
    token_field = _login_form(client)
    again = client.post(
        "/admin/login", data={"username": "sementara", "password": PASSWORD, "csrf_token": token_field}
    )
    assert again.status_code == 401
    assert "staff.disable" in _actions(console, "admin")


def test_api_tokens_authenticate_scripts(console: Console) -> None:
    token = accounts.issue_token(console.db, actor="test", username="broadcaster")
    client = console.anonymous()
    me = client.get("/admin/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "broadcaster" and me.json()["via"] == "token"
    assert (
        client.get("/admin/api/v1/me", headers={"Authorization": "Bearer " + token[:-2] + "xx"}).status_code
        == 401
    )
    assert client.get("/admin/api/v1/me", headers={"Authorization": token}).status_code == 401
    newer = accounts.issue_token(console.db, actor="test", username="broadcaster")
    assert client.get("/admin/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/admin/api/v1/me", headers={"Authorization": f"Bearer {newer}"}).status_code == 200


def test_tokens_are_stored_hashed(console: Console) -> None:
    token = accounts.issue_token(console.db, actor="test", username="viewer")
    from storage.models import StaffAccount

    with console.db.session() as session:
        stored = session.scalars(select(StaffAccount.api_token_hash)).all()
        hashes = session.scalars(select(StaffAccount.password_hash)).all()
    assert token not in stored
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert PASSWORD not in "".join(hashes)


def test_the_openapi_description_lists_the_api_behind_auth(
    console: Console, signed_in: dict[str, SignedIn]
) -> None:
    assert console.anonymous().get("/admin/api/v1/openapi.json").status_code == 401
    spec = signed_in["viewer"].client.get("/admin/api/v1/openapi.json")
    assert spec.status_code == 200
    doc = spec.json()
    assert doc["info"]["title"] == "jamsosbot admin API"
    assert "/me" in doc["paths"] and "/staff" in doc["paths"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_console_pages_carry_security_headers(signed_in: dict[str, SignedIn]) -> None:
    page = signed_in["viewer"].client.get("/admin")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


@pytest.fixture
def fresh_console(tmp_path: Path, nlu_cache: Path) -> Iterator[Console]:
    yield from start_console(tmp_path, nlu_cache)


def test_failed_logins_are_rate_limited(fresh_console: Console) -> None:
    client = fresh_console.anonymous()
    token = _login_form(client)
    form = {"username": "admin", "password": "bukan-sandinya-1", "csrf_token": token}
    codes = [client.post("/admin/login", data=form).status_code for _ in range(5)]
    assert codes == [401] * 5
    limited = client.post("/admin/login", data={**form, "password": PASSWORD})
    assert limited.status_code == 429  # even the right password waits: the check is never reached
    assert "Terlalu banyak percobaan" in limited.text
    assert COOKIE not in client.cookies
    assert "login.limited" in _actions(fresh_console, "admin")
    # another account from the same address is still allowed (until the per-address window fills)
    fresh_console.login("viewer")


def test_cookies_are_secure_behind_https(tmp_path: Path, nlu_cache: Path) -> None:
    for console in start_console(tmp_path, nlu_cache, PUBLIC_URL="https://bot.example.id"):
        client = console.anonymous()
        page = client.get("/admin/login")
        login_cookie = next(h for h in page.headers.get_list("set-cookie") if h.startswith("jb_login_csrf="))
        assert "secure" in {p.strip().lower() for p in login_cookie.split(";")}
        token = _FIELD.search(page.text)
        assert token
        # the test talks plain http, so the client will not send a Secure cookie back by itself
        response = client.post(
            "/admin/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token[1]},
            headers={"Cookie": f"jb_login_csrf={token[1]}"},
        )
        assert response.status_code == 303
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
        assert "secure" in {p.strip().lower() for p in cookie.split(";")}
