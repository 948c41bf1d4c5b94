"""Subscribers: opt-in and opt-out with timestamps and source, the unreachable flag, the last inbound
message (WhatsApp's 24-hour window), and the audience a broadcast sends to.

An opt-out takes effect at once: `recipients` reads the status at query time, and a broadcaster should
check `is_opted_in` again right before each send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Conversation, Subscriber, utcnow
from storage.repo.conversations import conversation_id, find_conversation


@dataclass(frozen=True)
class SubscriberInfo:
    id: int
    channel: str
    status: str  # opted_in / opted_out
    region: str | None
    occupation: str | None
    unreachable: bool
    opted_in_at: datetime | None
    opted_out_at: datetime | None
    last_inbound_at: datetime | None


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    channel: str
    chat_id: str
    last_inbound_at: datetime | None


def _info(row: Subscriber) -> SubscriberInfo:
    return SubscriberInfo(
        id=row.id,
        channel=row.channel,
        status=row.status,
        region=row.region,
        occupation=row.occupation,
        unreachable=row.unreachable,
        opted_in_at=row.opted_in_at,
        opted_out_at=row.opted_out_at,
        last_inbound_at=row.last_inbound_at,
    )


def opt_in(
    db: Database,
    *,
    channel: str,
    chat_id: str,
    source: str,
    region: str | None = None,
    occupation: str | None = None,
    phone: str | None = None,
    at: datetime | None = None,
) -> int:
    """Subscribe (again) this conversation; returns the subscriber id. Region and occupation are kept
    when not given."""
    at = at or utcnow()
    with db.transaction() as session:
        conv = conversation_id(session, db.vault, channel, chat_id, phone=phone)
        row = session.scalars(select(Subscriber).where(Subscriber.conversation_id == conv)).first()
        if row is None:
            row = Subscriber(conversation_id=conv, channel=channel, status="opted_in")
            session.add(row)
        row.status, row.opted_in_at, row.opted_in_source = "opted_in", at, source
        row.unreachable, row.unreachable_at, row.unreachable_reason = False, None, None
        row.last_inbound_at = at
        row.region = region or row.region
        row.occupation = occupation or row.occupation
        session.flush()
        return row.id


def opt_out(db: Database, *, channel: str, chat_id: str, source: str, at: datetime | None = None) -> bool:
    """Unsubscribe; True when the conversation was opted in."""
    with db.transaction() as session:
        row = _subscriber(session, db, channel, chat_id)
        if row is None or row.status == "opted_out":
            return False
        row.status, row.opted_out_at, row.opted_out_source = "opted_out", at or utcnow(), source
        return True


def mark_unreachable(db: Database, subscriber_id: int, *, reason: str, at: datetime | None = None) -> None:
    """The channel said this recipient cannot be reached (blocked the bot, number gone): stop sending."""
    with db.transaction() as session:
        row = session.get(Subscriber, subscriber_id)
        if row is not None:
            row.unreachable, row.unreachable_at, row.unreachable_reason = True, at or utcnow(), reason


def record_inbound(db: Database, *, channel: str, chat_id: str, at: datetime | None = None) -> None:
    """A message came in from this chat: opens WhatsApp's 24-hour window and proves it is reachable."""
    with db.transaction() as session:
        row = _subscriber(session, db, channel, chat_id)
        if row is not None:
            row.last_inbound_at = at or utcnow()
            row.unreachable, row.unreachable_reason = False, None


def get_subscriber(db: Database, *, channel: str, chat_id: str) -> SubscriberInfo | None:
    with db.session() as session:
        row = _subscriber(session, db, channel, chat_id)
        return _info(row) if row else None


def is_opted_in(db: Database, subscriber_id: int) -> bool:
    with db.session() as session:
        status = session.scalar(select(Subscriber.status).where(Subscriber.id == subscriber_id))
        return status == "opted_in"


def _audience(channel: str | None, region: str | None, occupation: str | None) -> Select[Subscriber, bytes]:
    query = (
        select(Subscriber, Conversation.chat_id_enc)
        .join(Conversation)
        .where(Subscriber.status == "opted_in", Subscriber.unreachable.is_(False))
    )
    if channel:
        query = query.where(Subscriber.channel == channel)
    if region:
        query = query.where(func.lower(Subscriber.region) == region.lower())
    if occupation:
        query = query.where(Subscriber.occupation == occupation)
    return query


def count_audience(
    db: Database, *, channel: str | None = None, region: str | None = None, occupation: str | None = None
) -> int:
    with db.session() as session:
        subquery = _audience(channel, region, occupation).subquery()
        return int(session.scalar(select(func.count()).select_from(subquery)) or 0)


def recipients(
    db: Database,
    *,
    channel: str | None = None,
    region: str | None = None,
    occupation: str | None = None,
    batch: int = 500,
) -> Iterator[Recipient]:
    """Opted-in, reachable subscribers matching the filters, in id order, read in batches (keyset
    pagination: constant memory, and each batch sees opt-outs made since the previous one)."""
    after = 0
    while True:
        with db.session() as session:  # closed before yielding: the caller may take its time sending
            query = _audience(channel, region, occupation).where(Subscriber.id > after)
            rows = session.execute(query.order_by(Subscriber.id).limit(batch)).all()
        for sub, chat_enc in rows:
            chat_id = db.vault.decrypt("chat_id", chat_enc).decode()
            yield Recipient(sub.id, sub.channel, chat_id, sub.last_inbound_at)
        if len(rows) < batch:
            return
        after = rows[-1][0].id


def _subscriber(session: Session, db: Database, channel: str, chat_id: str) -> Subscriber | None:
    conv = find_conversation(session, db.vault, channel, chat_id)
    if conv is None:
        return None
    return session.scalars(select(Subscriber).where(Subscriber.conversation_id == conv.id)).first()
