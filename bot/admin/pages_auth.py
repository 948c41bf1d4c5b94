"""Console login and logout.

Login is rate limited (bot.admin.ratelimit) before the password is checked, protected by a double-submit
CSRF cookie, and audited (`login`, `login.failed`, `login.limited`); a success starts a fresh server-side
session. Logout is a POST with the session's CSRF token (a link could be triggered by another site)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.admin import csrf
from bot.admin.auth import PageAuth, client_address, page_auth, session_user
from bot.admin.context import admin_of, limiter_of, runtime_of, sessions_of
from bot.admin.sessions import COOKIE, MAX_SECONDS, end_session, start_session
from bot.admin.staff import authenticate
from bot.admin.views import redirect, render, safe_next
from storage.repo.staff import record_audit

router = APIRouter()


def _login_page(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_token()
    response = render(
        request, "login.html", None, status_code=status_code, error=error, next=next_path, login_csrf=token
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=admin_of(request).secure_cookies,
        path="/admin/login",
        max_age=3600,
    )
    return response


@router.get("/admin/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    if session_user(request) is not None:
        return redirect(safe_next(next))
    return _login_page(request, next_path=safe_next(next))


@router.post("/admin/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=60)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/admin",
) -> Response:
    next_path = safe_next(next)
    if not csrf.tokens_match(request.cookies.get(csrf.LOGIN_COOKIE), csrf_token):
        return _login_page(
            request,
            next_path=next_path,
            status_code=403,
            error="Halaman masuk kedaluwarsa. Silakan coba lagi.",
        )
    runtime, ctx = runtime_of(request), admin_of(request)
    limiter = limiter_of(request)
    address, name = client_address(request), username.strip().lower()
    if not limiter.allowed(name, address):
        record_audit(runtime.db, actor=name or "-", action="login.limited")
        return _login_page(
            request,
            next_path=next_path,
            status_code=429,
            error="Terlalu banyak percobaan masuk. Tunggu 15 menit, lalu coba lagi.",
        )
    info = authenticate(runtime.db, name, password) if name and password else None
    if info is None:
        limiter.failed(name, address)
        record_audit(runtime.db, actor=name or "-", action="login.failed")
        return _login_page(
            request, next_path=next_path, status_code=401, error="Nama pengguna atau kata sandi salah."
        )
    limiter.succeeded(name, address)
    record_audit(runtime.db, actor=info.username, action="login")
    # a fresh session id at every login: an id planted before login is never promoted (session fixation)
    end_session(sessions_of(request), request.cookies.get(COOKIE))
    session_id = start_session(sessions_of(request), info.id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
        path="/admin",
        max_age=MAX_SECONDS,
    )
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/admin/login")
    return response


@router.post("/admin/logout")
def logout(request: Request, auth: Annotated[PageAuth, Depends(page_auth())]) -> Response:
    runtime = runtime_of(request)
    end_session(sessions_of(request), request.cookies.get(COOKIE))
    record_audit(runtime.db, actor=auth.user.username, action="logout")
    response = redirect("/admin/login", notice="keluar")
    response.delete_cookie(COOKIE, path="/admin")
    return response
