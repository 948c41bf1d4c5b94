"""The send loop of one sender job (run by the arq jobs in bot/broadcast/jobs.py): while the campaign
runs and the quiet hours allow, claim a batch of deliveries (bot/broadcast/claims.py) and send it
(bot/broadcast/batch.py), claiming the next batch while this one goes out; stop after
BROADCAST_SLICE_SECONDS so a successor job takes over (a long campaign never holds one arq job for hours,
and a worker that stops hands its slot on). `Engine` is what one worker process shares between its jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from redis.asyncio import Redis

from bot.broadcast import campaigns
from bot.broadcast import claims as sql
from bot.broadcast.batch import Batch
from bot.broadcast.channels import ChannelPort, Content
from bot.broadcast.claims import Claimed, Outcome
from bot.broadcast.config import BroadcastConfig
from bot.broadcast.keys import Keys
from bot.broadcast.ledger import Ledger
from bot.broadcast.quiet import QuietHours
from bot.broadcast.ratelimit import RateLimiter
from bot.broadcast.settling import Holder, Settler, Stats
from storage.db import Database

log = logging.getLogger(__name__)

EndKind = Literal["again", "quiet", "stopped", "done", "busy"]


@dataclass(frozen=True)
class SliceEnd:
    """Why a sender job stopped: `again` (hand over to a successor, at `resume_at` if set), `quiet`
    (successor at the end of the quiet hours), `stopped` (campaign not running), `done` (nothing left on
    this channel), `busy` (another job holds the slot)."""

    kind: EndKind
    resume_at: datetime | None = None


@dataclass
class Step:
    """One claim: the campaign's status and message, whether it is fully planned, the deliveries claimed."""

    status: str
    content: Content
    planned: bool
    batch: list[Claimed]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Engine:
    """Everything a broadcast worker process shares: database, Redis, channel ports, limiter, ledger."""

    def __init__(
        self,
        *,
        db: Database,
        redis: Redis,
        keys: Keys,
        config: BroadcastConfig,
        ports: Mapping[str, ChannelPort],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.redis = redis
        self.keys = keys
        self.config = config
        self.ports = dict(ports)
        self.clock = clock
        self.ledger = Ledger(redis, keys)
        self.limiter = RateLimiter(redis, keys, config)
        self.quiet = QuietHours.from_config(config)
        self.stats = Stats()

    # -- the loop ----------------------------------------------------------------------------------------
    async def run_slice(
        self, campaign_id: int, channel: str, holder: Holder, *, stop: asyncio.Event | None = None
    ) -> SliceEnd:
        """Send this campaign's deliveries on `channel` for up to BROADCAST_SLICE_SECONDS."""
        port = self.ports.get(channel)
        if port is None:
            left, _ = await asyncio.to_thread(self._remaining, campaign_id, channel)
            if left:
                log.error(
                    "campaign %d has %d %s deliveries but no %s sender", campaign_id, left, channel, channel
                )
            return SliceEnd("stopped")
        deadline = time.monotonic() + self.config.slice_seconds
        ahead: asyncio.Task[Step | None] | None = None  # the next batch, claimed while this one is sent
        try:
            while True:
                if stop is not None and stop.is_set():
                    return SliceEnd("again")
                now = self.clock()
                if self.quiet.is_quiet(now):
                    return SliceEnd("quiet", self.quiet.ends_at(now))
                step = await (ahead or self._claim_soon(campaign_id, channel, holder))
                ahead = None
                if step is None or step.status != "running":
                    return SliceEnd("stopped")
                if step.batch:
                    if time.monotonic() < deadline:
                        ahead = self._claim_soon(campaign_id, channel, holder)
                    await Batch(self, campaign_id, port, step.content, holder, stop).run(step.batch)
                else:
                    left, due = await asyncio.to_thread(self._remaining, campaign_id, channel)
                    if left == 0 and step.planned:
                        return SliceEnd("done")
                    if time.monotonic() >= deadline:
                        return SliceEnd("again", due if due is not None and due > now else None)
                    await _sleep_or_stop(min(1.0, _seconds_until(due, now) or 0.25), stop)
                    continue
                if time.monotonic() >= deadline:
                    return SliceEnd("again")
        finally:
            if ahead is not None:  # claimed but not sent: back to the queue at once
                await self._release(campaign_id, holder, await ahead)

    def _claim_soon(self, campaign_id: int, channel: str, holder: Holder) -> asyncio.Task[Step | None]:
        return asyncio.create_task(asyncio.to_thread(self._claim, campaign_id, channel, holder))

    def _claim(self, campaign_id: int, channel: str, holder: Holder) -> Step | None:
        """The campaign as it is now and, while it runs, the next batch of deliveries (one transaction)."""
        with self.db.transaction() as session:
            try:
                row = campaigns.load(session, campaign_id)
            except campaigns.CampaignNotFound:
                return None
            content = campaigns.content_of(row)
            step = Step(row.status, content, row.planned_at is not None, [])
            if row.status != "running":
                return step
            needs_names = "{" in content.text or any("{" in v for v in content.template_variables.values())
            step.batch = sql.claim(
                session,
                self.db.vault,
                campaign_id=campaign_id,
                channel=channel,
                token=holder.token,
                limit=self.config.claim_size(channel),
                now=self.clock(),
                lease=self.config.claim_lease_seconds,
                with_names=needs_names,
            )
        holder.held.update(c.delivery_id for c in step.batch)
        return step

    async def _release(self, campaign_id: int, holder: Holder, step: Step | None) -> None:
        if step is not None and step.batch:
            outcomes = [Outcome(c.delivery_id, "release", attempted=False) for c in step.batch]
            settler = Settler(self, campaign_id, holder)
            for outcome in outcomes:
                settler.add(outcome, keep=True)
            await settler.close()

    def _remaining(self, campaign_id: int, channel: str) -> tuple[int, datetime | None]:
        with self.db.session() as session:
            return sql.remaining(session, campaign_id, channel)

    def renew(self, holder: Holder) -> int:
        """Extend the lease of everything `holder` has claimed (called by the job's heartbeat)."""
        if not holder.held:
            return 0
        with self.db.transaction() as session:
            return sql.renew(session, token=holder.token, delivery_ids=list(holder.held), now=self.clock())

    async def settle_stale(self, campaign_id: int, status: str, channel: str) -> int:
        """Claims left behind by dead workers in a paused or cancelled campaign (nobody sends for it, so
        nobody would take them over): recorded from the ledger where it knows, else put back in the queue
        (paused) or skipped (cancelled). Returns how many."""
        holder = Holder(token=f"settle:{uuid.uuid4().hex[:12]}")
        batch = await asyncio.to_thread(self._stale, campaign_id, channel, holder)
        if not batch:
            return 0
        entries = await self.ledger.read(campaign_id, [c.delivery_id for c in batch])
        settler = Settler(self, campaign_id, holder)
        try:
            for c in batch:
                entry = entries.get(c.delivery_id)
                if entry is not None and entry.kind == "d":
                    settler.add(Outcome(c.delivery_id, "sent", provider_id=entry.detail, attempted=False))
                elif status == "paused":
                    settler.add(Outcome(c.delivery_id, "release", attempted=False), keep=True)
                elif entry is not None and entry.kind == "s":
                    settler.add(Outcome(c.delivery_id, "failed", error_code="in_doubt", attempted=False))
                else:
                    settler.add(Outcome(c.delivery_id, "skipped", error_code="cancelled", attempted=False))
        finally:
            await settler.close()
        return len(batch)

    def _stale(self, campaign_id: int, channel: str, holder: Holder) -> list[Claimed]:
        with self.db.transaction() as session:
            return sql.claim(
                session,
                self.db.vault,
                campaign_id=campaign_id,
                channel=channel,
                token=holder.token,
                limit=1000,
                now=self.clock(),
                lease=self.config.claim_lease_seconds,
                stale_only=True,
            )


def _seconds_until(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    return max(0.05, (when - now).total_seconds())


async def _sleep_or_stop(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
