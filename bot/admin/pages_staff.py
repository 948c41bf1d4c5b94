"""Staff management (admin only), the audit log (admin only), and each staff member's own account page
(password and API token), all audited through bot.admin.staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin import staff as accounts
from bot.admin.auth import PageAuth, page_auth
from bot.admin.context import runtime_of
from bot.admin.roles import ROLE_LABELS, Permission
from bot.admin.views import redirect, render
from storage.models import STAFF_ROLES

router = APIRouter()
Admin = Annotated[PageAuth, Depends(page_auth(Permission.MANAGE_STAFF))]
Anyone = Annotated[PageAuth, Depends(page_auth())]
Username = Annotated[str, Path(max_length=60)]


def _staff_page(
    request: Request,
    auth: PageAuth,
    *,
    error: str | None = None,
    token: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff.html",
        auth,
        status_code=status_code,
        rows=accounts.list_staff(runtime_of(request).db),
        roles=STAFF_ROLES,
        role_labels=ROLE_LABELS,
        error=error,
        token=token,
    )


@router.get("/admin/staff", response_class=HTMLResponse)
def staff_list(request: Request, auth: Admin) -> Response:
    return _staff_page(request, auth)


@router.post("/admin/staff")
def staff_add(
    request: Request,
    auth: Admin,
    username: Annotated[str, Form(max_length=60)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        accounts.add_staff(
            runtime_of(request).db, actor=auth.user.username, username=username, password=password, role=role
        )
    except accounts.StaffError as exc:
        return _staff_page(request, auth, error=exc.label, status_code=400)
    return redirect("/admin/staff", notice="staf_ditambah")


@router.post("/admin/staff/{username}/role")
def staff_role(
    request: Request, auth: Admin, username: Username, role: Annotated[str, Form(max_length=20)]
) -> Response:
    try:
        accounts.set_role(runtime_of(request).db, actor=auth.user.username, username=username, role=role)
    except accounts.StaffError as exc:
        return _staff_page(request, auth, error=exc.label, status_code=400)
    return redirect("/admin/staff", notice="staf_diubah")


@router.post("/admin/staff/{username}/active")
def staff_active(
    request: Request, auth: Admin, username: Username, active: Annotated[bool, Form()]
) -> Response:
    try:
        accounts.set_active(
            runtime_of(request).db, actor=auth.user.username, username=username, active=active
        )
    except accounts.StaffError as exc:
        return _staff_page(request, auth, error=exc.label, status_code=400)
    return redirect("/admin/staff", notice="staf_diubah")


@router.post("/admin/staff/{username}/password")
def staff_password(
    request: Request, auth: Admin, username: Username, password: Annotated[str, Form(max_length=200)]
) -> Response:
    try:
        accounts.set_password(
            runtime_of(request).db, actor=auth.user.username, username=username, password=password
        )
    except accounts.StaffError as exc:
        return _staff_page(request, auth, error=exc.label, status_code=400)
    return redirect("/admin/staff", notice="staf_diubah")


@router.post("/admin/staff/{username}/token")
def staff_token(request: Request, auth: Admin, username: Username) -> Response:
    try:
        token = accounts.issue_token(runtime_of(request).db, actor=auth.user.username, username=username)
    except accounts.StaffError as exc:
        return _staff_page(request, auth, error=exc.label, status_code=400)
    return _staff_page(request, auth, token=(username, token))


@router.post("/admin/staff/{username}/token/revoke")
def staff_token_revoke(request: Request, auth: Admin, username: Username) -> Response:
    try:
        accounts.revoke_token(runtime_of(request).db, actor=auth.user.username, username=username)
    except accounts.StaffError as exc:
        return _staff_page(request, auth, error=exc.label, status_code=400)
    return redirect("/admin/staff", notice="staf_diubah")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit(request: Request, auth: Admin) -> Response:
    rows = accounts.recent_audit(runtime_of(request).db, limit=300)
    return render(request, "audit.html", auth, rows=rows)


def _account_page(
    request: Request,
    auth: PageAuth,
    *,
    error: str | None = None,
    token: str | None = None,
    status_code: int = 200,
) -> Response:
    rows = [r for r in accounts.list_staff(runtime_of(request).db) if r.id == auth.user.id]
    return render(
        request,
        "account.html",
        auth,
        status_code=status_code,
        me=rows[0] if rows else None,
        error=error,
        token=token,
    )


@router.get("/admin/akun", response_class=HTMLResponse)
def account(request: Request, auth: Anyone) -> Response:
    return _account_page(request, auth)


@router.post("/admin/akun/password")
def account_password(
    request: Request,
    auth: Anyone,
    current: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    db = runtime_of(request).db
    if accounts.authenticate(db, auth.user.username, current) is None:
        return _account_page(request, auth, error="Kata sandi saat ini salah.", status_code=400)
    try:
        accounts.set_password(db, actor=auth.user.username, username=auth.user.username, password=password)
    except accounts.StaffError as exc:
        return _account_page(request, auth, error=exc.label, status_code=400)
    return redirect("/admin/akun", notice="tersimpan")


@router.post("/admin/akun/token")
def account_token(request: Request, auth: Anyone) -> Response:
    token = accounts.issue_token(
        runtime_of(request).db, actor=auth.user.username, username=auth.user.username
    )
    return _account_page(request, auth, token=token)


@router.post("/admin/akun/token/revoke")
def account_token_revoke(request: Request, auth: Anyone) -> Response:
    accounts.revoke_token(runtime_of(request).db, actor=auth.user.username, username=auth.user.username)
    return redirect("/admin/akun", notice="tersimpan")
