"""WhatsApp delivery statuses: what Twilio's status callbacks say about each outbound message.

Twilio calls back once per step (queued → sent → delivered → read, or failed / undelivered with an error
code), and callbacks may arrive out of order or twice, so a status only ever moves forward (`RANK`). A
campaign delivery sent through WhatsApp (`deliveries.provider_message_id` = the MessageSid) follows the
same status, so a broadcast's progress shows delivered and read counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Delivery, WhatsAppMessage, utcnow

# How far along a message is; a callback with a lower rank than the stored status is stale.
RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 6,
    "failed": 6,
}
# Twilio status → deliveries.status (the broadcast's own vocabulary)
DELIVERY_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
_DELIVERY_RANK = {"sent": 3, "delivered": 4, "read": 5, "failed": 6}


@dataclass(frozen=True)
class MessageStatus:
    message_sid: str
    status: str
    error_code: str | None
    updated_at: datetime


def record_status(
    db: Database, message_sid: str, status: str, *, error_code: str | None = None, at: datetime | None = None
) -> bool:
    """Record a status callback. True when it moved the message forward (False: stale or repeated).
    Unknown statuses raise ValueError."""
    if status not in RANK:
        raise ValueError(f"unknown WhatsApp message status {status!r}")
    at = at or utcnow()
    with db.transaction() as session:
        row = _find(session, message_sid)
        if row is None:
            row = _insert(session, message_sid, status, error_code, at)
            if row is None:  # created just now by a concurrent callback: compare with it
                row = _find(session, message_sid)
                assert row is not None
            else:
                _follow_delivery(session, message_sid, status, error_code, at)
                return True
        if RANK[status] <= RANK.get(row.status, -1):
            return False
        row.status, row.updated_at = status, at
        row.error_code = error_code or row.error_code
        _follow_delivery(session, message_sid, status, error_code, at)
        return True


def _find(session: Session, message_sid: str) -> WhatsAppMessage | None:
    return session.scalars(select(WhatsAppMessage).where(WhatsAppMessage.message_sid == message_sid)).first()


def _insert(
    session: Session, message_sid: str, status: str, error_code: str | None, at: datetime
) -> WhatsAppMessage | None:
    row = WhatsAppMessage(
        message_sid=message_sid, status=status, error_code=error_code, created_at=at, updated_at=at
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def _follow_delivery(
    session: Session, message_sid: str, status: str, error_code: str | None, at: datetime
) -> None:
    target = DELIVERY_STATUS.get(status)
    if target is None:
        return
    for delivery in session.scalars(select(Delivery).where(Delivery.provider_message_id == message_sid)):
        if _DELIVERY_RANK[target] > _DELIVERY_RANK.get(delivery.status, 0):
            delivery.status, delivery.updated_at = target, at
            if error_code:
                delivery.error_code = error_code


def get_status(db: Database, message_sid: str) -> MessageStatus | None:
    with db.session() as session:
        row = _find(session, message_sid)
        return MessageStatus(row.message_sid, row.status, row.error_code, row.updated_at) if row else None


def prune_statuses(db: Database, *, before: datetime) -> int:
    """Delete status rows last updated before `before` (they only matter for a few days); the count."""
    with db.transaction() as session:
        result = session.execute(delete(WhatsAppMessage).where(WhatsAppMessage.updated_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
