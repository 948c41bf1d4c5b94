"""Admin API: staff accounts, API tokens and the audit log (admin role only, except one's own token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from bot.admin import staff as accounts
from bot.admin.auth import api_auth
from bot.admin.context import runtime_of
from bot.admin.roles import Permission, StaffUser
from bot.admin.schemas import AuditOut, StaffIn, StaffOut, StaffPatch, TokenOut

router = APIRouter(tags=["staff"])
Admin = Annotated[StaffUser, Depends(api_auth(Permission.MANAGE_STAFF))]
Anyone = Annotated[StaffUser, Depends(api_auth())]
Username = Annotated[str, Path(max_length=60)]


def _out(row: accounts.StaffRow) -> StaffOut:
    return StaffOut(
        id=row.id,
        username=row.username,
        role=row.role,  # type: ignore[arg-type]
        active=row.active,
        has_token=row.has_token,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _find(request: Request, username: str) -> StaffOut:
    for row in accounts.list_staff(runtime_of(request).db):
        if row.username == username.strip().lower():
            return _out(row)
    raise accounts.StaffError(f"no staff account {username!r}", "Akun staf tidak ditemukan.", status=404)


@router.get("/staff", response_model=list[StaffOut])
def list_staff(request: Request, user: Admin) -> list[StaffOut]:
    return [_out(r) for r in accounts.list_staff(runtime_of(request).db)]


@router.post("/staff", response_model=StaffOut, status_code=status.HTTP_201_CREATED)
def add_staff(request: Request, user: Admin, body: StaffIn) -> StaffOut:
    accounts.add_staff(
        runtime_of(request).db,
        actor=user.username,
        username=body.username,
        password=body.password,
        role=body.role,
    )
    return _find(request, body.username)


@router.patch("/staff/{username}", response_model=StaffOut)
def change_staff(request: Request, user: Admin, username: Username, body: StaffPatch) -> StaffOut:
    """Change role, enable/disable (disabling revokes the token and ends sessions), or set a password."""
    db = runtime_of(request).db
    if body.role is not None:
        accounts.set_role(db, actor=user.username, username=username, role=body.role)
    if body.active is not None:
        accounts.set_active(db, actor=user.username, username=username, active=body.active)
    if body.password is not None:
        accounts.set_password(db, actor=user.username, username=username, password=body.password)
    return _find(request, username)


@router.post("/staff/{username}/token", response_model=TokenOut)
def issue_token(request: Request, user: Admin, username: Username) -> TokenOut:
    token = accounts.issue_token(runtime_of(request).db, actor=user.username, username=username)
    return TokenOut(username=username.strip().lower(), token=token)


@router.delete("/staff/{username}/token", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(request: Request, user: Admin, username: Username) -> None:
    accounts.revoke_token(runtime_of(request).db, actor=user.username, username=username)


@router.post("/me/token", response_model=TokenOut, tags=["account"])
def rotate_my_token(request: Request, user: Anyone) -> TokenOut:
    """Replace the caller's own token (the old one stops working at once)."""
    token = accounts.issue_token(runtime_of(request).db, actor=user.username, username=user.username)
    return TokenOut(username=user.username, token=token)


@router.get("/audit", response_model=list[AuditOut])
def audit(
    request: Request,
    user: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=60)] = None,
) -> list[AuditOut]:
    rows = accounts.recent_audit(runtime_of(request).db, limit=limit, actor=actor)
    return [
        AuditOut(at=r.at, actor=r.actor, action=r.action, target=r.target, details=r.details) for r in rows
    ]
