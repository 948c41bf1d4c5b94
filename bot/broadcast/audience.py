"""The audience of a campaign in SQL: the filters, the live count, and planning (one delivery row per
recipient).

Planning never holds the audience in memory: it walks the subscribers in id order (keyset pagination),
and each chunk is one `INSERT … SELECT … ON CONFLICT DO NOTHING` executed by the database, so the process
only ever holds two ids. The unique (campaign, subscriber) constraint makes planning idempotent: planning
again, or resuming after a crash, creates nothing twice.

A subscriber's registration status is found through the registrations linked to their conversation:
by the phone's blind index (WhatsApp, or a Telegram user who shared their number), or by the registration
number of a `registration.submitted` event the conversation logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from bot.broadcast.model import Audience
from storage.db import insert_ignoring_duplicates
from storage.models import Conversation, Delivery, Event, Registration, Subscriber, UtcDateTime


def conditions(audience: Audience) -> list[ColumnElement[bool]]:
    """WHERE clauses over `subscribers` for `audience` (opted in and reachable, always)."""
    where: list[ColumnElement[bool]] = [Subscriber.status == "opted_in", Subscriber.unreachable.is_(False)]
    if audience.channels:
        where.append(Subscriber.channel.in_(audience.channels))
    if audience.regions:
        where.append(func.lower(Subscriber.region).in_([r.lower() for r in audience.regions]))
    if audience.occupations:
        where.append(Subscriber.occupation.in_(audience.occupations))
    if audience.sources:
        where.append(Subscriber.opted_in_source.in_(audience.sources))
    if audience.subscribed_since is not None:
        where.append(Subscriber.opted_in_at >= audience.subscribed_since)
    if audience.registration:
        where.append(or_(*(_registration_is(value) for value in audience.registration)))
    return where


def _linked_registrations() -> ColumnElement[bool]:
    """Registrations belonging to the subscriber of the enclosing query (correlated)."""
    # correlated to the outer query's subscriber explicitly: they sit two levels down, inside EXISTS
    phone = (
        select(Conversation.phone_bidx)
        .where(Conversation.id == Subscriber.conversation_id)
        .correlate(Subscriber)
    )
    submitted = (
        select(Event.data["registration_number"].as_string())
        .where(Event.conversation_id == Subscriber.conversation_id, Event.type == "registration.submitted")
        .correlate(Subscriber)
    )
    return or_(
        Registration.phone_bidx == phone.scalar_subquery(),
        Registration.registration_number.in_(submitted),
    )


def _registration_is(value: str) -> ColumnElement[bool]:
    linked = _linked_registrations()
    any_registration = exists(select(Registration.id).where(linked).correlate(Subscriber))
    started = exists(
        select(Event.id)
        .where(Event.conversation_id == Subscriber.conversation_id, Event.type == "registration.started")
        .correlate(Subscriber)
    )
    if value == "none":
        return and_(not_(any_registration), not_(started))
    if value == "started":
        return and_(not_(any_registration), started)
    return exists(select(Registration.id).where(linked, Registration.state == value).correlate(Subscriber))


def count(session: Session, audience: Audience) -> dict[str, int]:
    """Recipients per channel right now (channels with none are left out)."""
    query = select(Subscriber.channel, func.count()).where(*conditions(audience)).group_by(Subscriber.channel)
    return {channel: int(n) for channel, n in session.execute(query)}


def plan_chunk(
    session: Session, campaign_id: int, audience: Audience, *, after: int, limit: int, now: datetime
) -> tuple[int, int | None]:
    """Write the delivery rows of the next `limit` recipients with subscriber id > `after`.

    Returns (rows inserted, the last subscriber id covered), or (0, None) when no recipient is left.
    Runs in the caller's transaction."""
    where = conditions(audience)
    window = select(Subscriber.id).where(*where, Subscriber.id > after).order_by(Subscriber.id).limit(limit)
    upper = session.scalar(select(func.max(window.subquery().c.id)))
    if upper is None:
        return 0, None
    rows = select(
        literal(campaign_id),
        Subscriber.id,
        Subscriber.channel,
        literal("pending"),
        literal(0),
        literal(now, UtcDateTime()),
        literal(now, UtcDateTime()),
    ).where(*where, Subscriber.id > after, Subscriber.id <= upper)
    columns = ["campaign_id", "subscriber_id", "channel", "status", "attempts", "created_at", "updated_at"]
    dialect = session.get_bind().dialect.name
    statement = insert_ignoring_duplicates(dialect, Delivery.__table__).from_select(columns, rows)
    # an INSERT's rowcount is only kept on request (SQLAlchemy 2); ON CONFLICT makes it "rows added"
    result: Any = session.connection().execute(statement.execution_options(preserve_rowcount=True))
    return max(0, int(result.rowcount or 0)), int(upper)
