"""Staff accounts as the console, the API and `jamsosbot staff` manage them. Every change is written to the
audit log in the same transaction as the change itself, with the acting staff member's username (or
"cli" for the operator's shell), so the log cannot miss an action that happened.

Builds on storage.repo.staff (argon2id hashing, hashed API tokens, authentication).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import STAFF_ROLES, AuditEntry, StaffAccount
from storage.repo import staff as repo
from storage.repo.staff import StaffInfo, add_audit

MIN_PASSWORD = 10


def _hash(password: str) -> str:
    # the very hasher storage.repo.staff.authenticate verifies with (argon2id, RFC 9106 defaults)
    return repo._hasher.hash(password)


class StaffError(ValueError):
    """A staff change that cannot be made; the message is English for logs, `label` Indonesian for staff."""

    def __init__(self, message: str, label: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.label = label
        self.status = status  # the HTTP status the API answers with


@dataclass(frozen=True)
class StaffRow:
    id: int
    username: str
    role: str
    active: bool
    has_token: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, object]


def _norm(username: str) -> str:
    return username.strip().lower()


def _check_username(username: str) -> str:
    name = _norm(username)
    if not (2 <= len(name) <= 60) or not all(c.isalnum() or c in "._-" for c in name):
        raise StaffError(
            "username must be 2-60 letters, digits, '.', '_' or '-'",
            "Nama pengguna 2–60 karakter: huruf, angka, titik, garis bawah atau tanda hubung.",
        )
    return name


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise StaffError(f"role must be one of {', '.join(STAFF_ROLES)}", "Peran tidak dikenal.")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(
            f"a staff password needs at least {MIN_PASSWORD} characters",
            f"Kata sandi minimal {MIN_PASSWORD} karakter.",
        )


def get_staff(db: Database, staff_id: int) -> StaffInfo | None:
    """The account if it exists and is active (the check every authenticated request makes)."""
    with db.session() as session:
        row = session.get(StaffAccount, staff_id)
        if row is None or not row.active:
            return None
        return StaffInfo(id=row.id, username=row.username, role=row.role, active=row.active)


def list_staff(db: Database) -> list[StaffRow]:
    with db.session() as session:
        rows = session.scalars(select(StaffAccount).order_by(StaffAccount.username))
        return [
            StaffRow(
                id=r.id,
                username=r.username,
                role=r.role,
                active=r.active,
                has_token=r.api_token_hash is not None,
                created_at=r.created_at,
                last_login_at=r.last_login_at,
            )
            for r in rows
        ]


def count_admins(db: Database) -> int:
    with db.session() as session:
        query = select(func.count()).where(StaffAccount.role == "admin", StaffAccount.active)
        return int(session.scalar(query.select_from(StaffAccount)) or 0)


def add_staff(db: Database, *, actor: str, username: str, password: str, role: str) -> int:
    """Create an account; raises StaffError for a bad name, role or password, or a taken name."""
    name = _check_username(username)
    _check_role(role)
    _check_password(password)
    with db.transaction() as session:
        if session.scalar(select(StaffAccount.id).where(StaffAccount.username == name)) is not None:
            raise StaffError(f"staff account {name!r} exists", "Nama pengguna itu sudah dipakai.", status=409)
        row = StaffAccount(username=name, password_hash=_hash(password), role=role)
        session.add(row)
        session.flush()
        add_audit(session, actor=actor, action="staff.add", target=name, details={"role": role})
        return row.id


def _row(session: Session, username: str) -> StaffAccount:
    row = session.scalars(select(StaffAccount).where(StaffAccount.username == _norm(username))).first()
    if row is None:
        raise StaffError(f"no staff account {username!r}", "Akun staf tidak ditemukan.", status=404)
    return row


def _other_admins(session: Session, row: StaffAccount) -> int:
    query = select(func.count()).select_from(StaffAccount)
    query = query.where(StaffAccount.role == "admin", StaffAccount.active, StaffAccount.id != row.id)
    return int(session.scalar(query) or 0)


def set_active(db: Database, *, actor: str, username: str, active: bool) -> None:
    """Disable (or re-enable) an account. Disabling also revokes its API token; its console sessions fail
    on their next request. The last active admin cannot be disabled (nobody could manage staff after)."""
    with db.transaction() as session:
        row = _row(session, username)
        if not active and row.role == "admin" and row.active and _other_admins(session, row) == 0:
            raise StaffError(
                "cannot disable the last active admin", "Admin terakhir tidak bisa dinonaktifkan."
            )
        row.active = active
        if not active:
            row.api_token_hash = None
        add_audit(
            session, actor=actor, action="staff.enable" if active else "staff.disable", target=row.username
        )


def set_role(db: Database, *, actor: str, username: str, role: str) -> None:
    _check_role(role)
    with db.transaction() as session:
        row = _row(session, username)
        if row.role == "admin" and role != "admin" and row.active and _other_admins(session, row) == 0:
            raise StaffError("cannot demote the last active admin", "Admin terakhir tidak bisa diturunkan.")
        before, row.role = row.role, role
        add_audit(
            session,
            actor=actor,
            action="staff.role",
            target=row.username,
            details={"from": before, "to": role},
        )


def set_password(db: Database, *, actor: str, username: str, password: str) -> None:
    _check_password(password)
    with db.transaction() as session:
        row = _row(session, username)
        row.password_hash = _hash(password)
        add_audit(session, actor=actor, action="staff.password", target=row.username)


def issue_token(db: Database, *, actor: str, username: str) -> str:
    """A new API token for the account, replacing any previous one. Returned once; only a hash is kept."""
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        row = _row(session, username)
        if not row.active:
            raise StaffError("account is disabled", "Akun ini nonaktif.")
        # same hash as storage.repo.staff.staff_by_token looks up
        row.api_token_hash = hashlib.sha256(token.encode()).hexdigest()
        add_audit(session, actor=actor, action="staff.token", target=row.username)
    return token


def revoke_token(db: Database, *, actor: str, username: str) -> None:
    with db.transaction() as session:
        row = _row(session, username)
        row.api_token_hash = None
        add_audit(session, actor=actor, action="staff.token_revoked", target=row.username)


authenticate = repo.authenticate
staff_by_token = repo.staff_by_token


def recent_audit(db: Database, *, limit: int = 100, actor: str | None = None) -> list[AuditRow]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == _norm(actor))
    with db.session() as session:
        return [
            AuditRow(at=r.at, actor=r.actor, action=r.action, target=r.target, details=dict(r.details or {}))
            for r in session.scalars(query)
        ]
