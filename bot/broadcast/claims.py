"""Delivery rows as units of work: claimed atomically, leased, renewed, and settled with the provider's
answer in one statement per row.

Claiming (one transaction): the oldest pending rows of a campaign and channel that are due, plus rows
whose claim lease ran out (their worker died), are locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL
(concurrent workers never wait for each other or take the same row; SQLite serializes writers instead) and
marked `claimed` with the claimer's token and the time. A live claimer renews its lease; a dead one's rows
are taken over by the next claim after `lease` seconds.

Settling is fenced: a row is only updated while it is still claimed by the same token, so a worker that
lost its claim (it stalled past its lease) cannot overwrite what the new owner recorded. A sent row gets
status `sent` and the provider's message id in the same UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import ColumnElement, Integer, Table, any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.crypto import Vault
from storage.models import Conversation, Delivery, Event, Registration, Subscriber, UtcDateTime

OutcomeKind = Literal["sent", "failed", "skipped", "retry", "release"]
FINAL_STATUS = {
    "sent": "sent",
    "failed": "failed",
    "skipped": "skipped",
    "retry": "pending",
    "release": "pending",
}


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery with what sending it needs. `subscribed` is False when the subscriber opted
    out or became unreachable since planning (checked again right before sending)."""

    delivery_id: int
    subscriber_id: int
    channel: str
    chat_id: str
    last_inbound_at: datetime | None
    subscribed: bool
    unreachable: bool
    attempts: int  # attempts made before this claim
    reclaimed: bool  # taken over from a claimer whose lease ran out
    name: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed delivery. `attempted` counts it as an attempt (max_attempts)."""

    delivery_id: int
    kind: OutcomeKind
    provider_id: str | None = None
    error_code: str | None = None
    retry_at: datetime | None = None
    attempted: bool = True
    subscriber_id: int | None = None
    unreachable: str | None = None  # mark the subscriber unreachable, with this reason
    opted_out: str | None = None  # the platform says the user opted out there: record it, with this source


def claim(
    session: Session,
    vault: Vault,
    *,
    campaign_id: int,
    channel: str,
    token: str,
    limit: int,
    now: datetime,
    lease: float,
    stale_only: bool = False,
    with_names: bool = False,
) -> list[Claimed]:
    """Claim up to `limit` deliveries (stale claims first, then due pending rows, in id order)."""
    base = select(Delivery.id, Delivery.status).where(
        Delivery.campaign_id == campaign_id, Delivery.channel == channel
    )
    stale_before = now - timedelta(seconds=lease)
    rows = list(
        session.execute(
            base.where(Delivery.status == "claimed", Delivery.claimed_at < stale_before)
            .order_by(Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if len(rows) < limit and not stale_only:
        due = or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)
        rows += list(
            session.execute(
                base.where(Delivery.status == "pending", due)
                .order_by(Delivery.id)
                .limit(limit - len(rows))
                .with_for_update(skip_locked=True)
            )
        )
    if not rows:
        return []
    ids = [row.id for row in rows]
    reclaimed = {row.id for row in rows if row.status == "claimed"}
    session.execute(
        update(Delivery)
        .where(_among(session, Delivery.id, ids))
        .values(status="claimed", claimed_by=token, claimed_at=now, updated_at=now)
    )
    details = session.execute(
        select(
            Delivery.id,
            Delivery.subscriber_id,
            Delivery.attempts,
            Subscriber.status,
            Subscriber.unreachable,
            Subscriber.last_inbound_at,
            Conversation.chat_id_enc,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .join(Conversation, Conversation.id == Subscriber.conversation_id)
        .where(_among(session, Delivery.id, ids))
        .order_by(Delivery.id)
    ).all()
    names = _names(session, vault, [d.subscriber_id for d in details]) if with_names else {}
    return [
        Claimed(
            delivery_id=d.id,
            subscriber_id=d.subscriber_id,
            channel=channel,
            chat_id=vault.decrypt("chat_id", d.chat_id_enc).decode(),
            last_inbound_at=d.last_inbound_at,
            subscribed=d.status == "opted_in" and not d.unreachable,
            unreachable=bool(d.unreachable),
            attempts=d.attempts,
            reclaimed=d.id in reclaimed,
            name=names.get(d.subscriber_id),
        )
        for d in details
    ]


def _among(session: Session, column: InstrumentedAttribute[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`. On PostgreSQL `column = ANY(:ids)`, one array parameter: the statement's text is
    the same for any number of ids, where an IN list of hundreds of placeholders is expanded by
    SQLAlchemy and parsed again by psycopg for every batch (most of the worker's database CPU)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def _names(session: Session, vault: Vault, subscriber_ids: Sequence[int]) -> dict[int, str]:
    """The full name of each subscriber's newest linked registration (see bot/broadcast/audience.py)."""
    submitted = select(Event.data["registration_number"].as_string()).where(
        Event.conversation_id == Subscriber.conversation_id, Event.type == "registration.submitted"
    )
    query = (
        select(Subscriber.id, Registration.full_name_enc)
        .join(Conversation, Conversation.id == Subscriber.conversation_id)
        .join(
            Registration,
            or_(
                Registration.phone_bidx == Conversation.phone_bidx,
                Registration.registration_number.in_(submitted),
            ),
        )
        .where(_among(session, Subscriber.id, subscriber_ids), Registration.full_name_enc.is_not(None))
        .order_by(Subscriber.id, Registration.created_at.desc())
    )
    names: dict[int, str] = {}
    for subscriber_id, sealed in session.execute(query):
        if subscriber_id not in names and sealed is not None:
            names[subscriber_id] = vault.decrypt("full_name", sealed).decode()
    return names


def subscriber_states(session: Session, subscriber_ids: Iterable[int]) -> dict[int, str]:
    """ "subscribed", "opted_out" or "unreachable" for each of these subscribers, right now (one that was
    erased is missing)."""
    ids = list(subscriber_ids)
    if not ids:
        return {}
    query = select(Subscriber.id, Subscriber.status, Subscriber.unreachable).where(
        _among(session, Subscriber.id, ids)
    )
    return {
        sid: "unreachable" if unreachable else ("subscribed" if status == "opted_in" else "opted_out")
        for sid, status, unreachable in session.execute(query)
    }


def renew(session: Session, *, token: str, delivery_ids: Iterable[int], now: datetime) -> int:
    """Extend the lease of these claims (only those still held by `token`); returns how many."""
    ids = list(delivery_ids)
    if not ids:
        return 0
    result = session.execute(
        update(Delivery)
        .where(_among(session, Delivery.id, ids), Delivery.claimed_by == token, Delivery.status == "claimed")
        .values(claimed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def settle(session: Session, *, token: str, outcomes: Sequence[Outcome], now: datetime) -> set[int]:
    """Record outcomes of deliveries still claimed by `token`; returns the ids recorded (the others were
    taken over by another claimer and are left to it)."""
    if not outcomes:
        return set()
    ids = [o.delivery_id for o in outcomes]
    owned = set(
        session.scalars(
            select(Delivery.id)
            .where(
                _among(session, Delivery.id, ids), Delivery.status == "claimed", Delivery.claimed_by == token
            )
            .with_for_update()
        )
    )
    mine = [o for o in outcomes if o.delivery_id in owned]
    if not mine:
        return owned
    table = cast(Table, Delivery.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values(
            status=bindparam("_status"),
            provider_message_id=func.coalesce(bindparam("_pid"), table.c.provider_message_id),
            error_code=bindparam("_code"),
            sent_at=func.coalesce(bindparam("_sent_at", type_=UtcDateTime()), table.c.sent_at),
            next_attempt_at=bindparam("_next", type_=UtcDateTime()),
            attempts=table.c.attempts + bindparam("_tried", type_=Integer()),
            claimed_by=None,
            claimed_at=None,
            updated_at=now,
        )
    )
    session.connection().execute(
        statement,
        [
            {
                "_id": o.delivery_id,
                "_status": FINAL_STATUS[o.kind],
                "_pid": o.provider_id,
                "_code": o.error_code,
                "_sent_at": now if o.kind == "sent" else None,
                "_next": o.retry_at if o.kind in ("retry", "release") else None,
                "_tried": 1 if o.attempted else 0,
            }
            for o in mine
        ],
    )
    _mark_subscribers(session, mine, now)
    return owned


def _mark_subscribers(session: Session, outcomes: Sequence[Outcome], now: datetime) -> None:
    table = cast(Table, Subscriber.__table__)
    unreachable = [o for o in outcomes if o.unreachable and o.subscriber_id is not None]
    if unreachable:
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values(
                unreachable=True, unreachable_at=now, unreachable_reason=bindparam("_reason"), updated_at=now
            ),
            [{"_id": o.subscriber_id, "_reason": o.unreachable} for o in unreachable],
        )
    opted_out = [o for o in outcomes if o.opted_out and o.subscriber_id is not None]
    if opted_out:
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("_id"), table.c.status == "opted_in")
            .values(
                status="opted_out", opted_out_at=now, opted_out_source=bindparam("_source"), updated_at=now
            ),
            [{"_id": o.subscriber_id, "_source": o.opted_out} for o in opted_out],
        )


def remaining(session: Session, campaign_id: int, channel: str | None = None) -> tuple[int, datetime | None]:
    """(deliveries not yet settled — pending or claimed —, the earliest time a pending one is due)."""
    query = select(func.count(), func.min(Delivery.next_attempt_at)).where(
        Delivery.campaign_id == campaign_id, Delivery.status.in_(("pending", "claimed"))
    )
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    count, due = session.execute(query).one()
    if isinstance(due, datetime) or due is None:
        return int(count), due
    return int(count), UtcDateTime().process_result_value(due, session.get_bind().dialect)


def skip_pending(session: Session, campaign_id: int, *, reason: str, now: datetime) -> int:
    """Mark every pending delivery of the campaign skipped (a cancelled campaign); returns how many."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == "pending")
        .values(status="skipped", error_code=reason, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def requeue_in_doubt(session: Session, campaign_id: int, *, now: datetime) -> int:
    """Put deliveries recorded as in doubt back in the queue (a staff decision: they may arrive twice)."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == "failed",
            Delivery.error_code == "in_doubt",
        )
        .values(status="pending", error_code="in_doubt_requeued", next_attempt_at=None, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
