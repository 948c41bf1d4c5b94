"""People who opted in to campaign news and reminders, per conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, one_of, utcnow

SUBSCRIBER_STATUSES = ("opted_in", "opted_out")


class Subscriber(Base):
    """The address to send to (chat id, or the phone on WhatsApp) lives encrypted on the conversation, with
    its blind indexes; `channel` is repeated here so the audience query needs no join to filter.
    `last_inbound_at` drives WhatsApp's 24-hour free-form window."""

    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint(one_of("status", SUBSCRIBER_STATUSES), name="status"),
        Index(None, "status", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    channel: Mapped[str] = mapped_column(String(20))
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
