"""Everything a running bot process needs, built once from the settings and passed down explicitly:
the database, the session store, the NLU, the membership backend, the flow engine and the dispatcher.
The web app's lifespan, the console and the workers all build it the same way (one code path)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import now_wib
from bot.dispatcher import Dispatcher
from bot.event_sink import StorageEventSink
from bot.messages import InboundMessage
from bot.settings import Settings
from flows.engine import Engine
from flows.replies import Reply
from nlu.parser import NLU
from storage.db import Database, open_database
from storage.membership.base import MembershipBackend
from storage.membership.factory import make_membership_backend
from storage.sessions import make_session_store
from storage.sessions_base import SessionStore

log = logging.getLogger(__name__)


@dataclass
class FlowServicesImpl:
    """What the pure flows may call: the membership backend and shared counters (Redis in production,
    so lockouts hold across processes)."""

    membership: MembershipBackend
    store: SessionStore
    keyer: Callable[[str, str], bytes]  # the vault's keyed blind index

    def _key(self, key: str) -> str:
        # The flows' counter keys are derived from a NIK or a chat id; a plain hash of a NIK can be reversed
        # by trying every plausible NIK, a keyed one cannot without the data key.
        return "flow:" + self.keyer("counter", key).hex()

    def incr(self, key: str, ttl_seconds: int) -> int:
        return self.store.incr(self._key(key), ttl_seconds)

    def count(self, key: str) -> int:
        return self.store.count(self._key(key))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    store: SessionStore
    nlu: NLU
    membership: MembershipBackend
    engine: Engine
    dispatcher: Dispatcher
    clock: Callable[[], datetime]
    closers: list[Callable[[], Any]] = field(default_factory=list)
    turn_pool: ThreadPoolExecutor | None = None

    async def run_turn(self, msg: InboundMessage) -> list[Reply]:
        """Run one turn off the event loop, on this process's small pool of turn threads (TURN_THREADS).

        A turn blocks on PostgreSQL and Redis; a few threads overlap those waits. Many more would only
        queue on the interpreter lock and stretch every turn's latency, so requests beyond the pool wait
        their turn in order instead."""
        if self.turn_pool is None:
            self.turn_pool = ThreadPoolExecutor(self.settings.turn_threads, thread_name_prefix="turn")
            self.closers.append(self.turn_pool.shutdown)
        return await asyncio.get_running_loop().run_in_executor(self.turn_pool, self.dispatcher.handle, msg)

    @classmethod
    def build(cls, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Runtime:
        clock = clock or now_wib
        db = open_database(settings)
        store = make_session_store(settings, prefix=settings.redis_prefix)
        membership = make_membership_backend(settings, db=db, clock=clock)
        nlu = NLU.from_settings(settings)
        nlu.parse("halo")  # load (or, on a new machine, train) the model now, not on a user's first message
        engine = Engine(
            FlowServicesImpl(membership, store, db.vault.blind_index),
            idle_minutes=settings.session_idle_minutes,
            draft_days=settings.session_ttl_days,  # the consent text promises drafts go after this many days
        )
        dispatcher = Dispatcher(
            nlu=nlu,
            engine=engine,
            store=store,
            sink=StorageEventSink(
                db, consent_text=engine.content.text("consent.ask", days=engine.draft_days)
            ),
            sealer=db.vault,
            clock=clock,
            session_ttl_seconds=settings.session_ttl_days * 86_400,
            lock_seconds=settings.conversation_lock_seconds,
        )
        closers: list[Callable[[], Any]] = [nlu.close, db.dispose]
        for obj in (store, membership):
            close = getattr(obj, "close", None)
            if close is not None:
                closers.append(close)
        return cls(settings, db, store, nlu, membership, engine, dispatcher, clock, closers)

    def health_probes(self) -> dict[str, Callable[[], bool]]:
        return {
            "database": self.db.ping,
            "sessions": self.store.ping,
            "membership": self.membership.ping,
        }

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # closing must go on for the others
                log.exception("error while closing %s", getattr(close, "__qualname__", close))
