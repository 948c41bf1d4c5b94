"""The durable per-chat inbox between the channel webhooks and the turns (docs/inbox.md).

A webhook verifies the request, builds the InboundMessage and calls `await inbox.submit(msg)`, which records
it durably and returns at once, so the platform gets its 200 fast. Workers (bot/inbox_workers.py) then
drain the inbox one chat at a time, in arrival order:

    claim = await inbox.claim(wait=1.0)           # the oldest waiting chat, its first message, a lease
    ... run the turn, await inbox.record_replies(claim, replies), send them ...
    claim = await inbox.done(claim)               # the chat's next message (same lease), or None

Guarantees, shared by both implementations (tests/channels/test_inbox_contract.py runs against each):
- A message id (update_id, MessageSid) submitted twice is kept once (`submit` returns False the second time).
- A chat is held by at most one worker at a time; its messages are handed out in submission order, and a
  message leaves the inbox only when `done` is called for it.
- A claim is a lease of `lease_seconds`, kept alive by `renew`. When its holder dies, the chat becomes
  claimable again after the lease and the same message is handed out again, with the replies recorded for
  it, if any, so a turn that already ran is never run twice (its replies are only sent again).
- `retry_later` puts the chat back after a delay, counting an attempt on the message.

MemoryInbox keeps all this inside one process (the embedded default: nothing survives the process).
RedisInbox (bot/inbox_redis.py, when REDIS_URL is set) shares it between every process and survives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.messages import InboundMessage
from flows.replies import Button, Reply

if TYPE_CHECKING:
    from bot.dispatcher import Sealer
    from bot.settings import Settings

DEDUPE_TTL_SECONDS = 86_400.0  # platforms retry within minutes; a day is ample and bounds memory
DEFAULT_LEASE_SECONDS = 30.0


@dataclass(frozen=True)
class Claim:
    """One message handed to one worker, with the lease on its chat."""

    conversation: str  # InboundMessage.conversation_key
    token: str  # the lease holder's token
    entry_id: str  # identifies this message in the inbox (not the platform's id)
    message: InboundMessage
    replies: list[Reply] | None = None  # recorded once the turn ran; then only sending remains
    attempts: int = 0  # failed attempts so far (retry_later counts them)


class Inbox(Protocol):
    """The inbox interface (see the module docstring for the guarantees)."""

    async def submit(self, msg: InboundMessage) -> bool:
        """Record `msg` durably. False when its message_id was already submitted (nothing recorded)."""
        ...

    async def claim(self, *, wait: float = 1.0) -> Claim | None:
        """The first message of the chat that has waited longest, leased to the caller; None when no chat
        became ready within `wait` seconds."""
        ...

    async def renew(self, claim: Claim) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""
        ...

    async def record_replies(self, claim: Claim, replies: list[Reply]) -> Claim | None:
        """Store the turn's replies with the message (a redelivery sends them instead of rerunning the
        turn); the updated claim, or None when the lease was lost."""
        ...

    async def done(self, claim: Claim) -> Claim | None:
        """Remove the message. Returns the chat's next message under the same lease (renewed), or None when
        the chat is empty (released) or the lease was lost."""
        ...

    async def retry_later(self, claim: Claim, delay: float) -> None:
        """Release the chat for `delay` seconds, counting one more attempt on its first message."""
        ...

    async def release(self, claim: Claim) -> None:
        """Give the chat back at once, untouched (a worker shutting down)."""
        ...

    async def waiting(self) -> int:
        """How many chats have messages in the inbox (waiting or being answered)."""
        ...

    async def aclose(self) -> None: ...


# -- wire format of a message (shared with the Redis inbox, and readable in docs/inbox.md) ----------------
def message_to_dict(msg: InboundMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"channel": msg.channel, "chat_id": msg.chat_id, "text": msg.text}
    for name in ("message_id", "phone", "display_name", "start_param"):
        value = getattr(msg, name)
        if value is not None:
            out[name] = value
    if msg.metadata:
        out["metadata"] = dict(msg.metadata)
    if msg.received_at is not None:
        out["received_at"] = msg.received_at.isoformat()
    return out


def message_from_dict(data: dict[str, Any]) -> InboundMessage:
    received = data.get("received_at")
    return InboundMessage(
        channel=str(data["channel"]),
        chat_id=str(data["chat_id"]),
        text=str(data["text"]),
        message_id=data.get("message_id"),
        phone=data.get("phone"),
        display_name=data.get("display_name"),
        start_param=data.get("start_param"),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        received_at=datetime.fromisoformat(received) if received else None,
    )


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        out["buttons"] = [[b.title, b.payload] for b in reply.buttons]
    if reply.image:
        out["image"] = reply.image
    return out


def reply_from_dict(data: dict[str, Any]) -> Reply:
    buttons = tuple(Button(str(title), str(payload)) for title, payload in data.get("buttons", ()))
    return Reply(str(data["text"]), buttons, data.get("image"))


def dedupe_key(msg: InboundMessage) -> str | None:
    return f"{msg.channel}:{msg.message_id}" if msg.message_id else None


# -- in-process implementation ----------------------------------------------------------------------------
@dataclass
class _Entry:
    entry_id: str
    message: InboundMessage
    replies: list[Reply] | None = None
    attempts: int = 0


@dataclass
class _Chat:
    entries: deque[_Entry] = field(default_factory=deque)
    ready_at: float = 0.0  # monotonic time from which the chat may be claimed
    owner: str | None = None
    lease_until: float = 0.0


class MemoryInbox:
    """The inbox inside one process and one event loop (the embedded default). Same semantics as the
    Redis inbox; messages still queued are lost with the process (the embedded setup has no other)."""

    def __init__(self, *, lease_seconds: float = DEFAULT_LEASE_SECONDS, clock: Any = time.monotonic) -> None:
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._chats: dict[str, _Chat] = {}
        self._seen: dict[str, float] = {}  # dedupe key -> expiry
        self._submits = 0
        self._wake: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    async def submit(self, msg: InboundMessage) -> bool:
        now = self._clock()
        key = dedupe_key(msg)
        if key is not None:
            if self._seen.get(key, 0.0) > now:
                return False
            self._seen[key] = now + DEDUPE_TTL_SECONDS
        self._submits += 1
        if self._submits % 1024 == 0:  # bound memory: drop expired dedupe ids now and then
            self._seen = {k: t for k, t in self._seen.items() if t > now}
        chat = self._chats.get(msg.conversation_key)
        if chat is None:
            chat = self._chats[msg.conversation_key] = _Chat(ready_at=now)
        chat.entries.append(_Entry(uuid.uuid4().hex, msg))
        self._event().set()
        return True

    async def claim(self, *, wait: float = 1.0) -> Claim | None:
        deadline = self._clock() + wait
        while True:
            found = self._try_claim()
            if found is not None:
                return found
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            event = self._event()
            event.clear()  # no await since _try_claim: a submit cannot slip in between
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, self._next_due()))

    def _next_due(self) -> float:
        now = self._clock()
        return max(0.01, min((c.ready_at - now for c in self._chats.values()), default=60.0))

    def _try_claim(self) -> Claim | None:
        now = self._clock()
        ready = [(c.ready_at, key) for key, c in self._chats.items() if c.ready_at <= now]
        for _, key in sorted(ready):
            chat = self._chats[key]
            if not chat.entries:
                del self._chats[key]
                continue
            chat.owner = uuid.uuid4().hex
            self._lease(chat, now)
            return self._claim_of(key, chat)
        return None

    def _lease(self, chat: _Chat, now: float) -> None:
        chat.lease_until = now + self.lease_seconds
        chat.ready_at = chat.lease_until  # a dead holder's chat becomes claimable when the lease ends

    @staticmethod
    def _claim_of(key: str, chat: _Chat) -> Claim:
        assert chat.owner is not None
        head = chat.entries[0]
        return Claim(key, chat.owner, head.entry_id, head.message, head.replies, head.attempts)

    def _held(self, claim: Claim) -> _Chat | None:
        """The claim's chat if the claim still holds it (an expired lease nobody took over still counts)."""
        chat = self._chats.get(claim.conversation)
        return chat if chat is not None and chat.owner == claim.token else None

    async def renew(self, claim: Claim) -> bool:
        chat = self._held(claim)
        if chat is None:
            return False
        self._lease(chat, self._clock())
        return True

    async def record_replies(self, claim: Claim, replies: list[Reply]) -> Claim | None:
        chat = self._held(claim)
        if chat is None or not chat.entries or chat.entries[0].entry_id != claim.entry_id:
            return None
        chat.entries[0].replies = list(replies)
        return replace(claim, replies=list(replies))

    async def done(self, claim: Claim) -> Claim | None:
        chat = self._held(claim)
        if chat is None:
            return None
        if chat.entries and chat.entries[0].entry_id == claim.entry_id:
            chat.entries.popleft()
        if not chat.entries:
            del self._chats[claim.conversation]
            return None
        self._lease(chat, self._clock())
        return self._claim_of(claim.conversation, chat)

    async def retry_later(self, claim: Claim, delay: float) -> None:
        chat = self._held(claim)
        if chat is None:
            return
        if chat.entries and chat.entries[0].entry_id == claim.entry_id:
            chat.entries[0].attempts = claim.attempts + 1
        chat.owner = None
        chat.ready_at = self._clock() + delay
        self._event().set()

    async def release(self, claim: Claim) -> None:
        chat = self._held(claim)
        if chat is not None:
            chat.owner = None
            chat.ready_at = self._clock()
            self._event().set()

    async def waiting(self) -> int:
        return sum(1 for c in self._chats.values() if c.entries)

    async def aclose(self) -> None:
        return None


def make_inbox(
    settings: Settings,
    *,
    sealer: Sealer | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    prefix: str = "jb:",
) -> Inbox:
    """The Redis inbox when REDIS_URL is set (shared by every process), else the in-process one.
    `sealer` encrypts what the Redis inbox stores (messages can carry a NIK)."""
    if settings.redis_url:
        from bot.inbox_redis import RedisInbox

        return RedisInbox.from_url(
            settings.redis_url, sealer=sealer, lease_seconds=lease_seconds, prefix=prefix
        )
    return MemoryInbox(lease_seconds=lease_seconds)
