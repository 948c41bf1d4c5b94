"""Recording what happened to a batch: outcomes written to the database in batches (Settler), and the
STOP / pause / cancel check made again while a batch is being sent (Recheck)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bot.broadcast import campaigns
from bot.broadcast import claims as sql
from bot.broadcast.claims import Claimed, Outcome

if TYPE_CHECKING:
    from bot.broadcast.sending import Engine

FLUSH_EVERY = 0.5  # seconds between database settles while a batch is being sent
FLUSH_SIZE = 200
RECHECK_EVERY = 1.0  # seconds: how stale a STOP check may be when a send starts

Verdict = Literal["send", "opted_out", "unreachable", "cancelled", "hold"]


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    throttled: int = 0  # 429s the platform answered
    in_doubt: int = 0
    lost_claims: int = 0  # settled by another claimer after this one stalled


@dataclass
class Holder:
    """What one sender job holds: its claim token and the deliveries it has claimed (for lease renewal)."""

    token: str
    held: set[int] = field(default_factory=set)


class Settler:
    """Collects outcomes and writes them to the database in batches (every FLUSH_EVERY seconds, or at once
    when FLUSH_SIZE are waiting), then forgets their ledger entries (kept: outcomes whose message may
    have gone, and deliveries another claimer took over)."""

    def __init__(self, engine: Engine, campaign_id: int, holder: Holder) -> None:
        self.engine = engine  # its database, ledger, clock and stats
        self.campaign_id = campaign_id
        self.holder = holder
        self._buffer: list[tuple[Outcome, bool]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run())

    def add(self, outcome: Outcome, *, keep: bool = False) -> None:
        self._buffer.append((outcome, keep))
        if len(self._buffer) >= FLUSH_SIZE:
            self._wake.set()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY)
            self._wake.clear()
            await self._flush()
        await self._flush()  # what was added while the last flush was running

    async def close(self) -> None:
        """Write everything collected; returns once it is in the database."""
        self._closing = True
        self._wake.set()
        await self._task

    async def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        outcomes = [o for o, _ in batch]
        owned = await asyncio.to_thread(self._settle, outcomes)
        stats = self.engine.stats
        for o in outcomes:
            if o.delivery_id not in owned:
                stats.lost_claims += 1
            elif o.kind in ("sent", "failed", "skipped"):
                setattr(stats, o.kind, getattr(stats, o.kind) + 1)
        self.holder.held.difference_update(owned)
        done = [o.delivery_id for o, keep in batch if o.delivery_id in owned and not keep]
        await self.engine.ledger.forget(self.campaign_id, done)

    def _settle(self, outcomes: list[Outcome]) -> set[int]:
        with self.engine.db.transaction() as session:
            return sql.settle(session, token=self.holder.token, outcomes=outcomes, now=self.engine.clock())


class Recheck:
    """STOP between planning and sending, and pause, cancel and quiet hours mid-batch: the state of a
    batch's subscribers and of the campaign, read from the database for the batch's first send (a batch
    may have been claimed while the previous one was going out) and again whenever the last look is older
    than RECHECK_EVERY."""

    def __init__(self, engine: Engine, campaign_id: int, batch: Sequence[Claimed]) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.ids = [c.subscriber_id for c in batch]
        self.states: dict[int, str] = {}
        self.status = "running"
        self.at = -RECHECK_EVERY - 1.0  # never looked
        self._lock = asyncio.Lock()

    async def verdict(
        self, subscriber_id: int
    ) -> Literal["send", "opted_out", "unreachable", "cancelled", "hold"]:
        if time.monotonic() - self.at > RECHECK_EVERY:
            async with self._lock:
                if time.monotonic() - self.at > RECHECK_EVERY:
                    self.states, self.status = await asyncio.to_thread(self._query)
                    self.at = time.monotonic()
        if self.status == "cancelled":
            return "cancelled"
        if self.status != "running" or self.engine.quiet.is_quiet(self.engine.clock()):
            return "hold"
        state = self.states.get(subscriber_id, "opted_out")  # erased since: gone
        return "send" if state == "subscribed" else ("unreachable" if state == "unreachable" else "opted_out")

    def _query(self) -> tuple[dict[int, str], str]:
        with self.engine.db.session() as session:
            status = campaigns.load(session, self.campaign_id).status
            return sql.subscriber_states(session, self.ids), status


def skipped(delivery_id: int, reason: str) -> Outcome:
    """A delivery not sent on purpose: the subscriber opted out or became unreachable since planning, or
    the campaign was cancelled."""
    return Outcome(delivery_id, "skipped", error_code=reason, attempted=False)
