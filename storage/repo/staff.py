"""Staff accounts (argon2id password hashes, API tokens stored as SHA-256) and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import STAFF_ROLES, AuditEntry, StaffAccount, utcnow

_hasher = PasswordHasher()  # stateless; argon2-cffi's defaults follow RFC 9106's recommendation


@dataclass(frozen=True)
class StaffInfo:
    id: int
    username: str
    role: str
    active: bool


def _info(row: StaffAccount) -> StaffInfo:
    return StaffInfo(id=row.id, username=row.username, role=row.role, active=row.active)


def _token_hash(token: str) -> str:
    # tokens are 32 random bytes: a fast hash is enough (no dictionary to guess from)
    return hashlib.sha256(token.encode()).hexdigest()


def create_staff(db: Database, *, username: str, password: str, role: str) -> int:
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}")
    if len(password) < 10:
        raise ValueError("a staff password needs at least 10 characters")
    with db.transaction() as session:
        row = StaffAccount(username=username.strip().lower(), password_hash=_hasher.hash(password), role=role)
        session.add(row)
        session.flush()
        return row.id


def authenticate(db: Database, username: str, password: str) -> StaffInfo | None:
    """The active account whose password matches, else None (same answer for unknown user and wrong
    password). Re-hashes on login when argon2's parameters were raised since."""
    with db.transaction() as session:
        row = session.scalars(
            select(StaffAccount).where(StaffAccount.username == username.strip().lower())
        ).first()
        if row is None or not row.active:
            _hasher.hash(password)  # spend the same time as a real check
            return None
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        row.last_login_at = utcnow()
        return _info(row)


def issue_api_token(db: Database, username: str) -> str:
    """A new API token for the account (replacing any previous one). Shown once; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        row = session.scalars(
            select(StaffAccount).where(StaffAccount.username == username.strip().lower())
        ).one()
        row.api_token_hash = _token_hash(token)
    return token


def staff_by_token(db: Database, token: str) -> StaffInfo | None:
    with db.session() as session:
        row = session.scalars(
            select(StaffAccount).where(StaffAccount.api_token_hash == _token_hash(token), StaffAccount.active)
        ).first()
        return _info(row) if row else None


def set_active(db: Database, username: str, active: bool) -> None:
    with db.transaction() as session:
        row = session.scalars(
            select(StaffAccount).where(StaffAccount.username == username.strip().lower())
        ).one()
        row.active = active


def add_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record a staff action inside the caller's transaction. Never put a personal value in target/details."""
    session.add(AuditEntry(actor=actor, action=action, target=target, details=dict(details or {})))


def record_audit(
    db: Database,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    with db.transaction() as session:
        add_audit(session, actor=actor, action=action, target=target, details=details)
