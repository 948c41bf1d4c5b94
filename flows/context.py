"""What a turn receives and returns, and the services the host injects (re-exported by flows.engine,
which is where callers import them from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flows.replies import Event, Reply
from storage.membership.base import MembershipBackend


@dataclass(frozen=True)
class TurnContext:
    channel: str  # "telegram" | "whatsapp" | "rest" | "console"
    chat_id: str
    text: str  # the raw user text
    parse: dict[str, Any]  # Rasa parse JSON of `text` (contract §3), with "fallback" verdicts
    now: datetime  # timezone-aware
    phone: str | None = None  # the chat's own number in E.164 when the channel knows it (WhatsApp)
    start_param: str | None = None  # deep-link / campaign source on a first message
    display_name: str | None = None  # the channel's profile name, never trusted as the legal name


@dataclass
class TurnResult:
    state: dict[str, Any]  # JSON-serialisable; the host stores it as is
    replies: list[Reply] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # see flows/events.md


class FlowServices(Protocol):
    """Backends the flows use. Calls are synchronous; the host runs the engine in a worker thread."""

    @property
    def membership(self) -> MembershipBackend:
        """The membership backend (read-only here, so a host may hold any implementation of it)."""
        ...

    def incr(self, key: str, ttl_seconds: int) -> int:
        """Increment a shared counter that expires `ttl_seconds` after its first increment."""
        ...

    def count(self, key: str) -> int:
        """The counter's value (0 when absent or expired)."""
        ...
