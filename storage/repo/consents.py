"""Consents (UU PDP Pasal 22 and 24): recorded with the exact text version and its hash so the project
can show later what a person agreed to, and withdrawn on request."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from storage.db import Database
from storage.models import Consent, utcnow
from storage.repo.conversations import conversation_id, find_conversation


@dataclass(frozen=True)
class ConsentRecord:
    ref: str
    purpose: str
    text_version: str
    text_hash: str
    channel: str
    given_at: datetime
    withdrawn_at: datetime | None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _record(row: Consent) -> ConsentRecord:
    return ConsentRecord(
        ref=row.ref,
        purpose=row.purpose,
        text_version=row.text_version,
        text_hash=row.text_hash,
        channel=row.channel,
        given_at=row.given_at,
        withdrawn_at=row.withdrawn_at,
    )


def record_consent(
    db: Database,
    *,
    channel: str,
    chat_id: str,
    purpose: str,
    text_version: str,
    text: str,
    phone: str | None = None,
    at: datetime | None = None,
    ref: str | None = None,
) -> str:
    """Record that this conversation agreed to `text` (version `text_version`) for `purpose`; returns the
    consent's reference (what BpuApplication.consent_id carries): `ref` when the caller chose one (the flow
    engine names the consent in its event), else a new one. Recording a `ref` that is already recorded
    changes nothing: a turn that failed after its consent was stored runs again when the user repeats it."""
    ref = ref or uuid.uuid4().hex
    with db.transaction() as session:
        if session.scalar(select(Consent.id).where(Consent.ref == ref)) is not None:
            return ref
        conv = conversation_id(session, db.vault, channel, chat_id, phone=phone)
        session.add(
            Consent(
                ref=ref,
                purpose=purpose,
                text_version=text_version,
                text_hash=text_hash(text),
                channel=channel,
                conversation_id=conv,
                given_at=at or utcnow(),
            )
        )
    return ref


def get_consent(db: Database, ref: str) -> ConsentRecord | None:
    with db.session() as session:
        row = session.scalars(select(Consent).where(Consent.ref == ref)).first()
        return _record(row) if row else None


def consents_of(db: Database, *, channel: str, chat_id: str) -> list[ConsentRecord]:
    """Every consent of a conversation, oldest first (withdrawn ones included)."""
    with db.session() as session:
        conv = find_conversation(session, db.vault, channel, chat_id)
        if conv is None:
            return []
        rows = session.scalars(
            select(Consent).where(Consent.conversation_id == conv.id).order_by(Consent.given_at, Consent.id)
        )
        return [_record(r) for r in rows]


def withdraw_consents(
    db: Database, *, channel: str, chat_id: str, purpose: str | None = None, at: datetime | None = None
) -> int:
    """Withdraw the conversation's standing consents (of one purpose, or all); returns how many."""
    with db.transaction() as session:
        conv = find_conversation(session, db.vault, channel, chat_id)
        if conv is None:
            return 0
        query = (
            update(Consent)
            .where(Consent.conversation_id == conv.id, Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=at or utcnow())
        )
        if purpose is not None:
            query = query.where(Consent.purpose == purpose)
        return session.execute(query).rowcount or 0  # type: ignore[attr-defined]
