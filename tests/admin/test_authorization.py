"""The authorization matrix, walked over every route the console and the admin API have.

`EXPECTED` names the permission each route needs; a test fails when a route is added without a line
here, so nothing new can slip in unguarded. Then, over real HTTP:
- without a session or token nothing answers (pages redirect to the login, the API says 401);
- every state-changing page form needs the session's CSRF token, and every state-changing API call made
  with the session cookie needs X-CSRF-Token;
- a role without the permission gets 403 (a viewer cannot send, a broadcaster cannot manage staff), and
  the refused attempts change nothing;
- and the allowed side answers, so the matrix cannot pass by refusing everyone.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from bot.admin import page_routers
from bot.admin.api import PREFIX, api_routers
from bot.admin.roles import GRANTS, Permission
from storage.models import AuditEntry, Campaign, StaffAccount
from tests.admin.conftest import ROLES, Console, SignedIn

PUBLIC = None
V, S, M = Permission.VIEW, Permission.SEND, Permission.MANAGE_STAFF

EXPECTED: dict[tuple[str, str], Permission | None] = {
    # pages
    ("GET", "/admin/login"): PUBLIC,
    ("POST", "/admin/login"): PUBLIC,
    ("POST", "/admin/logout"): V,
    ("GET", "/admin"): V,
    ("GET", "/admin/funnel"): V,
    ("GET", "/admin/unrecognised"): V,
    ("GET", "/admin/campaigns"): V,
    ("GET", "/admin/campaigns/new"): S,
    ("POST", "/admin/campaigns"): S,
    ("POST", "/admin/campaigns/preview"): V,
    ("GET", "/admin/campaigns/{campaign_id}"): V,
    ("GET", "/admin/campaigns/{campaign_id}/edit"): S,
    ("POST", "/admin/campaigns/{campaign_id}/edit"): S,
    ("POST", "/admin/campaigns/{campaign_id}/test"): S,
    ("POST", "/admin/campaigns/{campaign_id}/schedule"): S,
    ("POST", "/admin/campaigns/{campaign_id}/start"): S,
    ("POST", "/admin/campaigns/{campaign_id}/pause"): S,
    ("POST", "/admin/campaigns/{campaign_id}/resume"): S,
    ("POST", "/admin/campaigns/{campaign_id}/cancel"): S,
    ("GET", "/admin/staff"): M,
    ("POST", "/admin/staff"): M,
    ("POST", "/admin/staff/{username}/role"): M,
    ("POST", "/admin/staff/{username}/active"): M,
    ("POST", "/admin/staff/{username}/password"): M,
    ("POST", "/admin/staff/{username}/token"): M,
    ("POST", "/admin/staff/{username}/token/revoke"): M,
    ("GET", "/admin/audit"): M,
    ("GET", "/admin/akun"): V,
    ("POST", "/admin/akun/password"): V,
    ("POST", "/admin/akun/token"): V,
    ("POST", "/admin/akun/token/revoke"): V,
    # API
    ("GET", PREFIX + "/me"): V,
    ("GET", PREFIX + "/dashboard"): V,
    ("GET", PREFIX + "/funnel"): V,
    ("GET", PREFIX + "/unrecognised"): V,
    ("GET", PREFIX + "/campaigns"): V,
    ("POST", PREFIX + "/campaigns"): S,
    ("GET", PREFIX + "/campaigns/{campaign_id}"): V,
    ("PUT", PREFIX + "/campaigns/{campaign_id}"): S,
    ("POST", PREFIX + "/preview"): V,
    ("GET", PREFIX + "/campaigns/{campaign_id}/preview"): V,
    ("POST", PREFIX + "/audience/count"): V,
    ("POST", PREFIX + "/campaigns/{campaign_id}/test-send"): S,
    ("POST", PREFIX + "/campaigns/{campaign_id}/schedule"): S,
    ("POST", PREFIX + "/campaigns/{campaign_id}/start"): S,
    ("POST", PREFIX + "/campaigns/{campaign_id}/pause"): S,
    ("POST", PREFIX + "/campaigns/{campaign_id}/resume"): S,
    ("POST", PREFIX + "/campaigns/{campaign_id}/cancel"): S,
    ("GET", PREFIX + "/campaigns/{campaign_id}/progress"): V,
    ("GET", PREFIX + "/campaigns/{campaign_id}/results"): V,
    ("GET", PREFIX + "/quiet-hours"): V,
    ("GET", PREFIX + "/staff"): M,
    ("POST", PREFIX + "/staff"): M,
    ("PATCH", PREFIX + "/staff/{username}"): M,
    ("POST", PREFIX + "/staff/{username}/token"): M,
    ("DELETE", PREFIX + "/staff/{username}/token"): M,
    ("POST", PREFIX + "/me/token"): V,
    ("GET", PREFIX + "/audit"): M,
    ("GET", PREFIX + "/openapi.json"): V,  # served by hand behind the same auth (not a router route)
}
SAFE = {"GET", "HEAD"}


def _routes() -> set[tuple[str, str]]:
    found = set()
    for router in page_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    for router in api_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            found |= {(m, PREFIX + route.path) for m in route.methods or () if m != "HEAD"}
    return found | {("GET", PREFIX + "/openapi.json")}


def test_every_route_has_an_expected_permission() -> None:
    assert _routes() == set(EXPECTED), "add the new route to EXPECTED with the permission it needs"


@pytest.fixture(scope="module")
def campaign_id(signed_in: dict[str, SignedIn]) -> int:
    created = signed_in["broadcaster"].api(
        "POST", "/campaigns", {"name": "Uji hak akses", "text": "Halo {nama}!"}
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _url(path: str, campaign_id: int) -> str:
    return path.replace("{campaign_id}", str(campaign_id)).replace("{username}", "viewer")


def _is_api(path: str) -> bool:
    return path.startswith(PREFIX)


def _call(client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    if _is_api(url) and method not in SAFE:
        kwargs.setdefault("json", {})
    return client.request(method, url, **kwargs)  # type: ignore[arg-type]


GUARDED = [key for key, perm in EXPECTED.items() if perm is not PUBLIC]


@pytest.mark.parametrize(("method", "path"), GUARDED, ids=[f"{m} {p}" for m, p in GUARDED])
def test_nothing_answers_without_a_session_or_token(
    console: Console, campaign_id: int, method: str, path: str
) -> None:
    response = _call(console.anonymous(), method, _url(path, campaign_id))
    if _is_api(path):
        assert response.status_code == 401
        assert response.headers.get("www-authenticate") == "Bearer"
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")


@pytest.mark.parametrize(("method", "path"), GUARDED, ids=[f"{m} {p}" for m, p in GUARDED])
def test_a_bogus_session_or_token_is_not_enough(
    console: Console, campaign_id: int, method: str, path: str
) -> None:
    client = console.anonymous()
    if _is_api(path):
        response = _call(client, method, _url(path, campaign_id), headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
    else:
        client.cookies.set("jb_admin", "made-up-session", domain="127.0.0.1", path="/admin")
        assert _call(client, method, _url(path, campaign_id)).status_code == 303


WRITES = [key for key in GUARDED if key[0] not in SAFE]
PAGE_WRITES = [key for key in WRITES if not _is_api(key[1])]
API_WRITES = [key for key in WRITES if _is_api(key[1])]


@pytest.mark.parametrize(("method", "path"), PAGE_WRITES, ids=[f"{m} {p}" for m, p in PAGE_WRITES])
def test_every_page_form_needs_the_csrf_token(
    signed_in: dict[str, SignedIn], campaign_id: int, method: str, path: str
) -> None:
    admin = signed_in["admin"]
    url = _url(path, campaign_id)
    assert admin.post(url, csrf=False).status_code == 403
    assert admin.client.post(url, data={"csrf_token": "x" * 43}).status_code == 403


@pytest.mark.parametrize(("method", "path"), API_WRITES, ids=[f"{m} {p}" for m, p in API_WRITES])
def test_api_writes_with_the_session_cookie_need_the_csrf_header(
    signed_in: dict[str, SignedIn], campaign_id: int, method: str, path: str
) -> None:
    admin = signed_in["admin"]
    url = _url(path, campaign_id)
    assert _call(admin.client, method, url).status_code == 403
    assert _call(admin.client, method, url, headers={"X-CSRF-Token": "x" * 43}).status_code == 403


@pytest.fixture(scope="module")
def tokens(console: Console) -> Iterator[dict[str, str]]:
    from bot.admin import staff as accounts

    yield {role: accounts.issue_token(console.db, actor="test", username=role) for role in ROLES}


DENIED = [
    (role, method, path)
    for role in ROLES
    for (method, path), perm in EXPECTED.items()
    if perm is not PUBLIC and perm not in GRANTS[role]
]


@pytest.mark.parametrize(("role", "method", "path"), DENIED, ids=[f"{r} {m} {p}" for r, m, p in DENIED])
def test_roles_without_the_permission_are_refused(
    signed_in: dict[str, SignedIn],
    tokens: dict[str, str],
    campaign_id: int,
    role: str,
    method: str,
    path: str,
) -> None:
    url = _url(path, campaign_id)
    if _is_api(path):
        by_token = _call(
            signed_in[role].client, method, url, headers={"Authorization": f"Bearer {tokens[role]}"}
        )
        assert by_token.status_code == 403
        by_session = signed_in[role].api(method, url[len(PREFIX) :], {} if method not in SAFE else None)
        assert by_session.status_code == 403
    elif method in SAFE:
        assert signed_in[role].client.get(url).status_code == 403
    else:
        assert signed_in[role].post(url).status_code == 403


def test_the_matrix_has_teeth() -> None:
    denied = {(r, m, p) for r, m, p in DENIED}
    sends = [k for k, perm in EXPECTED.items() if perm is S]
    staff = [k for k, perm in EXPECTED.items() if perm is M]
    assert sends and all(("viewer", m, p) in denied for m, p in sends)  # a viewer cannot send
    assert staff and all(("broadcaster", m, p) in denied for m, p in staff)  # nor a broadcaster manage staff
    assert not any(r == "admin" for r, _, _ in denied)


def test_refused_attempts_changed_nothing(console: Console, campaign_id: int) -> None:
    with console.db.session() as session:
        status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        staff = {
            u: (r, a)
            for u, r, a in session.execute(
                select(StaffAccount.username, StaffAccount.role, StaffAccount.active)
            )
        }
        done = set(
            session.execute(select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.actor.in_(ROLES)))
        )
    assert status == "draft"
    assert staff["viewer"] == ("viewer", True) and staff["broadcaster"] == ("broadcaster", True)
    # only what the fixtures did themselves: sign in, and the broadcaster's draft for the matrix
    assert done <= {(role, "login") for role in ROLES} | {("broadcaster", "campaign.create")}


ALLOWED_READS = [
    (role, path)
    for role in ROLES
    for (method, path), perm in EXPECTED.items()
    if method == "GET" and perm is not PUBLIC and perm in GRANTS[role]
]


@pytest.mark.parametrize(("role", "path"), ALLOWED_READS, ids=[f"{r} {p}" for r, p in ALLOWED_READS])
def test_roles_with_the_permission_are_served(
    signed_in: dict[str, SignedIn], tokens: dict[str, str], campaign_id: int, role: str, path: str
) -> None:
    url = _url(path, campaign_id)
    if _is_api(path):
        response = signed_in[role].client.get(url, headers={"Authorization": f"Bearer {tokens[role]}"})
    else:
        response = signed_in[role].client.get(url)
    assert response.status_code == 200, response.text[:300]
