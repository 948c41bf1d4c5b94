"""The append-only event log: what happened in conversations (registration created, consent given or
withdrawn, opt-in, opt-out, data erased, status checked, ...), for audit and analytics.

Rows are only ever inserted (storage.repo.events.append_event); an erasure deletes the conversation, which
clears `conversation_id` (the pseudonymous link to a person) and leaves the counts intact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(60), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
