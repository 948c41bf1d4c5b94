"""Conversations: one row per (channel, chat id) that the project keeps anything about.

The chat id (a Telegram chat id, or on WhatsApp the phone number itself) is personal, so it is stored
encrypted, with a blind index for look-ups; consents, events, drafts and subscriptions point here rather
than each keeping a copy. That makes an erasure one place to cut, and lets a key rotation recompute the
index from `chat_id_enc`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id_enc: Mapped[bytes]
    conversation_bidx: Mapped[bytes] = mapped_column(unique=True)  # index of "channel:chat_id"
    phone_enc: Mapped[bytes | None]  # E.164, when the channel tells it
    phone_bidx: Mapped[bytes | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
