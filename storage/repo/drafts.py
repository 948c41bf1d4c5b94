"""Registration drafts: a half-filled BPU form kept per conversation, encrypted as one JSON blob, so a
registration survives a restart or an expired session. Expired drafts read as absent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from storage.db import Database
from storage.models import RegistrationDraft, utcnow
from storage.repo.conversations import conversation_id, find_conversation

DEFAULT_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Draft:
    step: str
    data: dict[str, Any]
    updated_at: datetime
    expires_at: datetime


def save_draft(
    db: Database,
    *,
    channel: str,
    chat_id: str,
    step: str,
    data: dict[str, Any],
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> None:
    """Create or replace the conversation's draft. `data` must be JSON-serializable (dates as ISO text)."""
    now = now or utcnow()
    blob = db.vault.encrypt("data", json.dumps(data, separators=(",", ":"), default=str).encode())
    with db.transaction() as session:
        conv = conversation_id(session, db.vault, channel, chat_id)
        row = session.scalars(
            select(RegistrationDraft).where(RegistrationDraft.conversation_id == conv)
        ).first()
        if row is None:
            row = RegistrationDraft(conversation_id=conv, step=step, data_enc=blob, expires_at=now + ttl)
            session.add(row)
        row.step, row.data_enc, row.updated_at, row.expires_at = step, blob, now, now + ttl


def load_draft(db: Database, *, channel: str, chat_id: str, now: datetime | None = None) -> Draft | None:
    now = now or utcnow()
    with db.session() as session:
        conv = find_conversation(session, db.vault, channel, chat_id)
        if conv is None:
            return None
        row = session.scalars(
            select(RegistrationDraft).where(RegistrationDraft.conversation_id == conv.id)
        ).first()
        if row is None or row.expires_at <= now:
            return None
        data = json.loads(db.vault.decrypt("data", row.data_enc))
        return Draft(step=row.step, data=data, updated_at=row.updated_at, expires_at=row.expires_at)


def delete_draft(db: Database, *, channel: str, chat_id: str) -> bool:
    with db.transaction() as session:
        conv = find_conversation(session, db.vault, channel, chat_id)
        if conv is None:
            return False
        result = session.execute(
            delete(RegistrationDraft).where(RegistrationDraft.conversation_id == conv.id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def purge_expired_drafts(db: Database, *, now: datetime | None = None) -> int:
    with db.transaction() as session:
        result = session.execute(
            delete(RegistrationDraft).where(RegistrationDraft.expires_at <= (now or utcnow()))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
