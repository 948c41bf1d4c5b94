"""Who is asking, and may they: FastAPI dependencies for the console pages and the admin API.

- Pages accept only the console session cookie. Without one, every request is redirected to the login
  page and nothing is done; a state-changing form must carry the session's CSRF token (`csrf_token`).
- The API accepts `Authorization: Bearer <token>` (scripts) or the console session cookie (the console's
  own scripts); with the cookie, every state-changing request must send `X-CSRF-Token`. Without either it
  answers 401.
- Either way the account is re-read from the database on every request: disabling an account or changing
  its role takes effect at once. A missing permission is 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from starlette.datastructures import FormData

from bot.admin import csrf
from bot.admin.context import runtime_of, sessions_of
from bot.admin.roles import Permission, StaffUser
from bot.admin.sessions import COOKIE, ConsoleSession, load_session
from bot.admin.staff import get_staff, staff_by_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """A page was asked for without a live session (answered by a redirect to the login page)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Forbidden(Exception):
    """A signed-in staff member lacks the permission (answered by a 403 page)."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class PageAuth:
    user: StaffUser
    session: ConsoleSession

    @property
    def csrf(self) -> str:
        return self.session.csrf


def session_user(request: Request) -> PageAuth | None:
    runtime = runtime_of(request)
    session = load_session(sessions_of(request), request.cookies.get(COOKIE))
    if session is None:
        return None
    info = get_staff(runtime.db, session.staff_id)
    if info is None:  # disabled or deleted since the login
        return None
    return PageAuth(StaffUser(info.id, info.username, info.role, via="session"), session)


def login_redirect_target(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return "/admin/login?next=" + quote(path, safe="")


def page_auth(permission: Permission = Permission.VIEW) -> Callable[[Request], Awaitable[PageAuth]]:
    """Dependency for a page: the signed-in staff member with `permission`; POSTs must pass CSRF."""

    async def dependency(request: Request) -> PageAuth:
        auth = session_user(request)
        if auth is None:
            # a form posted after the session ended goes to the login page too (nothing is done)
            target = login_redirect_target(request) if request.method in SAFE_METHODS else "/admin/login"
            raise LoginRequired(target)
        if request.method not in SAFE_METHODS:
            form = await request.form()  # parsed once; Starlette caches it for the route's Form fields
            if not csrf.tokens_match(auth.csrf, _field(form, csrf.FIELD)):
                raise Forbidden("Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi.")
        if not auth.user.can(permission):
            raise Forbidden("Peran Anda tidak mengizinkan tindakan ini.")
        return auth

    return dependency


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_auth(permission: Permission = Permission.VIEW) -> Callable[[Request], StaffUser]:
    """Dependency for an API route: the caller by bearer token or console session, with `permission`."""

    def dependency(request: Request) -> StaffUser:
        user = _api_user(request)
        if not user.can(permission):
            raise HTTPException(403, f"role {user.role!r} may not do this (needs {permission.value!r})")
        request.state.staff = user
        return user

    return dependency


def _api_user(request: Request) -> StaffUser:
    runtime = runtime_of(request)
    token = _bearer(request)
    if token is not None:
        info = staff_by_token(runtime.db, token)
        if info is None:
            raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return StaffUser(info.id, info.username, info.role, via="token")
    auth = session_user(request)
    if auth is None:
        raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not csrf.tokens_match(
        auth.csrf, request.headers.get(csrf.HEADER)
    ):
        raise HTTPException(403, f"missing or wrong {csrf.HEADER} header")
    return auth.user


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def audit_actor(user: StaffUser) -> str:
    return user.username


def no_store(headers: dict[str, Any]) -> dict[str, Any]:
    """Signed-in pages hold campaign and staff data: never let a shared browser cache keep them."""
    return {**headers, "Cache-Control": "no-store"}
