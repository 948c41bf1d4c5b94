"""One turn, as data flows (shared/design.md):

inbound message → lock the conversation → load the session → dedupe the message id → nlu.parse →
flow engine (pure) → apply its events → save the session → unlock → replies for the channel to send.

Every channel (Telegram, WhatsApp, REST, console) calls `Dispatcher.handle`; nothing here knows channels.
The session holds personal values while a registration is in progress, so it is sealed (encrypted) before it
reaches the store.

Dedupe lives in the session itself: the saved session remembers the last platform message ids it answered
(and the replies to the last one), written in the same single store write as the new state. So a turn is
marked answered exactly when its state is saved: a turn that failed half-way (a dependency died, the process
was killed) leaves no mark and runs again when the message is redelivered, and a redelivery of a turn that
was saved gets the same replies without running it again. Nothing has to be undone after a failure, which
matters because the store itself may be what failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from bot.inbox import reply_from_dict, reply_to_dict
from bot.messages import InboundMessage
from bot.texts import text
from flows.engine import Engine, TurnContext
from flows.replies import Event, Reply
from storage.sessions_base import HeldSession, LockTimeout, SessionStore

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters; longer messages are cut before parsing (nobody types more in a chat)
# Message ids a session remembers having answered. The inbox hands out a chat's messages in order and
# redelivers only the one in work, so a few are plenty; the list keeps the session small.
REMEMBERED_IDS = 8


class Parser(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


class Sealer(Protocol):
    """Authenticated encryption of session blobs (storage.crypto provides one)."""

    def seal(self, plaintext: bytes) -> str: ...

    def unseal(self, token: str) -> bytes: ...

    def blind_index(self, field: str, value: str) -> bytes: ...


class EventSink(Protocol):
    def apply(
        self, events: list[Event], msg: InboundMessage, parse: dict[str, Any], now: datetime
    ) -> None: ...


class Dispatcher:
    def __init__(
        self,
        *,
        nlu: Parser,
        engine: Engine,
        store: SessionStore,
        sink: EventSink,
        sealer: Sealer,
        clock: Callable[[], datetime],
        session_ttl_seconds: int,
        lock_wait_seconds: float = 10.0,
        lock_seconds: float = 30.0,
    ) -> None:
        self.nlu = nlu
        self.engine = engine
        self.store = store
        self.sink = sink
        self.sealer = sealer
        self.clock = clock
        self.session_ttl_seconds = session_ttl_seconds
        self.lock_wait_seconds = lock_wait_seconds
        # The lock's lease: longer than any turn (a slow membership backend included), and how long the
        # conversation of a turn that died holding it (process killed, store unreachable) stays blocked.
        self.lock_seconds = lock_seconds

    def handle(self, msg: InboundMessage, *, busy_reply: bool = True) -> list[Reply]:
        """Run one turn and return what the bot says.

        A platform message id this conversation already answered (a redelivery) does not run again: it
        gets the replies it got the first time when it was the last message answered, else []. Raises on
        infrastructure failure (a store, the database, the NLU server down); nothing of the turn was then
        marked answered, so running it again later is safe and does not repeat what was saved (the
        membership backend answers a repeated registration key with the first receipt). A conversation
        still locked after `lock_wait_seconds` gets the 'busy' text, or, with `busy_reply=False` (the
        inbox workers, which retry later), LockTimeout is raised."""
        # The key names the conversation by a keyed hash: a WhatsApp chat id is a phone number, and key
        # names, unlike the sealed values, are readable by anyone who can list the store's keys.
        key = "conv:" + self.sealer.blind_index("session", msg.conversation_key).hex()
        try:
            with self.store.hold(key, timeout=self.lock_seconds, wait=self.lock_wait_seconds) as held:
                return self._turn(held, msg)
        except LockTimeout:
            if not busy_reply:
                raise
            log.warning("conversation %s stayed locked; asked the user to wait", msg.channel)
            return [Reply(text("busy"))]

    def _turn(self, held: HeldSession, msg: InboundMessage) -> list[Reply]:
        blob = held.value or {}
        answered = [str(i) for i in blob.get("answered") or ()]
        if msg.message_id is not None and msg.message_id in answered:
            log.info("duplicate %s message: answered before, not run again", msg.channel)
            return self._replies_of(blob, msg.message_id)
        now = self.clock()
        state = self._state(blob)
        user_text = msg.text[:MAX_TEXT]
        parse = self.nlu.parse(user_text)
        ctx = TurnContext(
            channel=msg.channel,
            chat_id=msg.chat_id,
            text=user_text,
            parse=parse,
            now=now,
            phone=msg.phone,
            start_param=msg.start_param,
            display_name=msg.display_name,
        )
        result = self.engine.run(state, ctx)
        self.sink.apply(result.events, msg, parse, now)
        self._save(held, result.state, answered, msg.message_id, result.replies)
        return result.replies

    def _state(self, blob: dict[str, Any]) -> dict[str, Any]:
        if not blob.get("sealed"):
            return {}
        try:
            return dict(json.loads(self.sealer.unseal(str(blob["sealed"]))))
        except Exception:
            # A session sealed under a retired key, or damaged: start over rather than fail every turn.
            log.warning("unreadable session discarded")
            return {}

    def _replies_of(self, blob: dict[str, Any], message_id: str) -> list[Reply]:
        last = blob.get("last")
        if not isinstance(last, dict) or last.get("id") != message_id:
            return []
        try:
            return [reply_from_dict(r) for r in json.loads(self.sealer.unseal(str(last["replies"])))]
        except Exception:
            log.warning("unreadable recorded replies discarded")
            return []

    def _save(
        self,
        held: HeldSession,
        state: dict[str, Any],
        answered: list[str],
        message_id: str | None,
        replies: list[Reply],
    ) -> None:
        """One write: the new state, and (for a platform message) its id among those answered and its
        replies, so the turn counts as done exactly when its state is saved."""
        payload = json.dumps(state, separators=(",", ":"), ensure_ascii=False, default=str)
        blob: dict[str, Any] = {"sealed": self.sealer.seal(payload.encode())}
        if message_id is not None:
            answered = [*answered, message_id][-REMEMBERED_IDS:]
            recorded = json.dumps([reply_to_dict(r) for r in replies], ensure_ascii=False)
            blob["last"] = {"id": message_id, "replies": self.sealer.seal(recorded.encode())}
        if answered:
            blob["answered"] = answered
        held.save(blob, self.session_ttl_seconds)  # and the conversation's lock is released
