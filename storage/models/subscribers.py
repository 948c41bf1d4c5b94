"""People who opted in to campaign news and reminders, per channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, one_of, utcnow

SUBSCRIBER_STATUSES = ("opted_in", "opted_out")


class Subscriber(Base):
    """`address` is the chat id (Telegram) or the E.164 phone (WhatsApp): encrypted, with a blind index
    for look-ups. `phone_bidx` is the phone's index wherever it is known, so an erasure by phone finds it.
    `last_inbound_at` drives WhatsApp's 24-hour free-form window."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("channel", "address_bidx"),
        CheckConstraint(one_of("status", SUBSCRIBER_STATUSES), name="status"),
        Index(None, "status", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    address_enc: Mapped[bytes]
    address_bidx: Mapped[bytes]
    phone_bidx: Mapped[bytes | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20))
    opted_in_at: Mapped[datetime | None]
    opted_in_source: Mapped[str | None] = mapped_column(String(60))
    opted_out_at: Mapped[datetime | None]
    opted_out_source: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(60))
    unreachable: Mapped[bool] = mapped_column(default=False)
    unreachable_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(60))
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
