"""The append-only event log. Events carry counts, codes and references, never a personal value: string
values pass through bot.logs.redact as a net under that rule (a NIK, phone or date slipped into an event's
data is masked before it is stored)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.logs import redact
from storage.db import Database
from storage.models import Event, utcnow
from storage.repo.conversations import conversation_id


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))  # dates, decimals, enums: stored as text


def event_row(
    type: str,
    *,
    channel: str | None = None,
    conversation_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The values of one events row (for `insert_events`), its data cleaned of personal values."""
    return {
        "type": type,
        "channel": channel,
        "conversation_id": conversation_id,
        "data": _clean(dict(data or {})),
        "created_at": at or utcnow(),
    }


def insert_events(db: Database, rows: list[dict[str, Any]]) -> None:
    """Append rows made by `event_row` in one statement, committed on its own: on PostgreSQL a single round
    trip (no BEGIN and COMMIT of their own), and all of the rows or none."""
    if not rows:
        return
    # One constant statement with the rows as parameters (compiled once; several rows still go as one
    # INSERT through SQLAlchemy's insertmanyvalues).
    with db.autocommit() as conn:
        conn.execute(insert(Event), rows)


def add_event(
    session: Session,
    db: Database,
    type: str,
    *,
    channel: str | None = None,
    chat_id: str | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Append inside the caller's transaction."""
    conv = conversation_id(session, db.vault, channel, chat_id) if channel and chat_id else None
    event = Event(**event_row(type, channel=channel, conversation_id=conv, data=data, at=at))
    session.add(event)
    return event


def append_event(
    db: Database,
    type: str,
    *,
    channel: str | None = None,
    chat_id: str | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append one event (its own transaction); returns its id."""
    with db.transaction() as session:
        event = add_event(session, db, type, channel=channel, chat_id=chat_id, data=data, at=at)
        session.flush()
        return event.id


def event_counts(db: Database, *, since: datetime | None = None) -> dict[str, int]:
    """How many events of each type (for the console's dashboard)."""
    query = select(Event.type, func.count()).group_by(Event.type)
    if since is not None:
        query = query.where(Event.created_at >= since)
    with db.session() as session:
        return {etype: int(n) for etype, n in session.execute(query)}
