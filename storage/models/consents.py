"""Consents (UU PDP Pasal 22 and 24: written or recorded, and provable): what was agreed to, the exact
text version and its hash, when, through which channel, and in which conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)  # what BpuApplication.consent_id carries
    purpose: Mapped[str] = mapped_column(String(40))  # e.g. bpu_registration, broadcast
    text_version: Mapped[str] = mapped_column(String(40))
    text_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the text the user saw
    channel: Mapped[str] = mapped_column(String(20))
    # cleared by an erasure; the consent itself stays as proof (UU PDP Pasal 24)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
