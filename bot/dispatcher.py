"""One turn, as data flows (shared/design.md):

inbound message → lock the conversation → dedupe the message id → load the session → nlu.parse →
flow engine (pure) → apply its events → save the session → unlock → replies for the channel to send.

Every channel (Telegram, WhatsApp, REST, console) calls `Dispatcher.handle`; nothing here knows channels.
The session holds personal values while a registration is in progress, so it is sealed (encrypted) before it
reaches the store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from bot.messages import InboundMessage
from bot.texts import text
from flows.engine import Engine, TurnContext
from flows.replies import Event, Reply
from storage.sessions_base import LockTimeout, SessionStore

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters; longer messages are cut before parsing (nobody types more in a chat)


class Parser(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


class Sealer(Protocol):
    """Authenticated encryption of session blobs (storage.crypto provides one)."""

    def seal(self, plaintext: bytes) -> str: ...

    def unseal(self, token: str) -> bytes: ...


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
    ) -> None:
        self.nlu = nlu
        self.engine = engine
        self.store = store
        self.sink = sink
        self.sealer = sealer
        self.clock = clock
        self.session_ttl_seconds = session_ttl_seconds
        self.lock_wait_seconds = lock_wait_seconds

    def handle(self, msg: InboundMessage) -> list[Reply]:
        """Run one turn and return what the bot says. A repeated platform message id returns [] (the
        platform retried a delivery we already answered). Raises only on infrastructure failure (the
        channel answers with the 'trouble' text and the platform may retry)."""
        key = f"conv:{msg.conversation_key}"
        try:
            with self.store.lock(key, wait=self.lock_wait_seconds):
                return self._turn(key, msg)
        except LockTimeout:
            log.warning("conversation %s stayed locked; asked the user to wait", msg.channel)
            return [Reply(text("busy"))]

    def _turn(self, key: str, msg: InboundMessage) -> list[Reply]:
        dedupe_id = f"{msg.channel}:{msg.message_id}" if msg.message_id else None
        if dedupe_id is not None and not self.store.first_time(dedupe_id):
            log.info("duplicate %s message dropped", msg.channel)
            return []
        try:
            now = self.clock()
            state = self._load(key)
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
            self._save(key, result.state)
            return result.replies
        except BaseException:
            # Nothing of this turn was saved: let a platform retry of the same message run it again.
            if dedupe_id is not None:
                self.store.forget(dedupe_id)
            raise

    def _load(self, key: str) -> dict[str, Any]:
        blob = self.store.get(key)
        if not blob:
            return {}
        try:
            return dict(json.loads(self.sealer.unseal(str(blob["sealed"]))))
        except Exception:
            # A session sealed under a retired key, or damaged: start over rather than fail every turn.
            log.warning("unreadable session discarded")
            return {}

    def _save(self, key: str, state: dict[str, Any]) -> None:
        payload = json.dumps(state, separators=(",", ":"), ensure_ascii=False, default=str)
        self.store.set(key, {"sealed": self.sealer.seal(payload.encode())}, self.session_ttl_seconds)
