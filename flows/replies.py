"""Channel-neutral output of a turn: what the bot says, and what happened (events for the host to apply).

A flow never knows which channel it talks to. It says "ask with these options"; each channel renders the
buttons its own way (inline keyboard on Telegram, numbered list on WhatsApp text and the console), and
`flows.choices` maps "2", the option's title or its payload back to the same payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    image: str | None = None  # URL of an image to send with the text

    def to_rasa(self, recipient_id: str) -> dict[str, Any]:
        """The item of Rasa's REST channel reply list."""
        out: dict[str, Any] = {"recipient_id": recipient_id, "text": self.text}
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image:
            out["image"] = self.image
        return out


@dataclass(frozen=True)
class Event:
    """Something that happened in a turn, for the host to persist (audit trail and analytics).

    `type` is one of the names in flows/events.md; `data` holds no personal value in clear text unless the
    event type says the host must store it encrypted (registration.submitted, consent.given).
    """

    type: str
    data: dict[str, Any] = field(default_factory=dict)
