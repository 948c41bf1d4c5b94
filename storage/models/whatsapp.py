"""Where each outbound WhatsApp message stands, from Twilio's delivery status callbacks.

One row per message (Twilio's MessageSid), holding its furthest status and, when it failed, Twilio's error
code (63016 outside the 24-hour window, 21610 unsubscribed, …). No personal data: the recipient is not
stored here (a campaign delivery points to its subscriber through `deliveries.provider_message_id`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class WhatsAppMessage(Base):
    __tablename__ = "whatsapp_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
