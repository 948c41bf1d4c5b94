"""The one inbound message model every channel adapter builds (Rasa's UserMessage, trimmed to our needs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # "telegram" | "whatsapp" | "rest" | "console"
    chat_id: str  # the conversation's id on that channel (chat id, phone, REST sender)
    text: str
    message_id: str | None = None  # platform id (update_id, MessageSid) for dedupe; None = never deduped
    phone: str | None = None  # the chat's own number in E.164, when the channel knows it
    display_name: str | None = None
    start_param: str | None = None  # deep-link / campaign source
    metadata: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None

    @property
    def conversation_key(self) -> str:
        return f"{self.channel}:{self.chat_id}"
