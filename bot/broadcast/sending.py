"""The send loop of one sender job: claim a batch, decide each delivery, send through the channel with
the global rate limit, record the outcome. Run by the arq jobs in bot/broadcast/jobs.py.

Per claimed delivery, in order:
1. The ledger (bot/broadcast/ledger.py) first: "done" means a crashed worker's send was accepted, so it is
   recorded as sent and not sent again; "started" and older than the grace period means in doubt (below);
   "started" and recent means its sender may still be waiting for an answer, so it is left for later.
2. STOP: a subscriber who opted out or became unreachable since planning is skipped; this is checked at
   claim time and again at most a second before each send.
3. Send: wait for the rate limiter's slot, write "started" (refused during a 429 pause), call the
   platform, write "done" with the message id; the database row follows in the next batched settle
   (`sent` + provider id in one UPDATE).

In doubt (the worker died, or the answer was lost, mid-request): where the platform can tell (WhatsApp,
Twilio's message list), it is asked, and the delivery is recorded as sent or sent again accordingly; where
it cannot (Telegram), BROADCAST_IN_DOUBT decides: "skip" (default: never twice; recorded failed/in_doubt)
or "resend" (never lost; maybe twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from redis.asyncio import Redis

from bot.broadcast import campaigns
from bot.broadcast import claims as sql
from bot.broadcast.channels import ChannelPort, Content, Mode
from bot.broadcast.claims import Claimed, Outcome, OutcomeKind
from bot.broadcast.config import BroadcastConfig
from bot.broadcast.keys import Keys
from bot.broadcast.ledger import Entry, Ledger, Started
from bot.broadcast.outcomes import classify
from bot.broadcast.quiet import QuietHours
from bot.broadcast.ratelimit import RateLimiter
from bot.channels.whatsapp_errors import OutsideSessionWindow
from bot.outbound import RateLimited, SendError
from storage.db import Database

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.5  # seconds between database settles while a batch is being sent
FLUSH_SIZE = 200
RECHECK_EVERY = 1.0  # seconds: how stale a STOP check may be when a send starts

EndKind = Literal["again", "quiet", "stopped", "done", "busy"]


@dataclass(frozen=True)
class SliceEnd:
    """Why a sender job stopped: `again` (hand over to a successor, at `resume_at` if set), `quiet`
    (successor at the end of the quiet hours), `stopped` (campaign not running), `done` (nothing left on
    this channel), `busy` (another job holds the slot)."""

    kind: EndKind
    resume_at: datetime | None = None


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    throttled: int = 0  # 429s the platform answered
    in_doubt: int = 0
    lost_claims: int = 0  # settled by another claimer after this one stalled


@dataclass
class Step:
    """One claim: the campaign's status and message, whether it is fully planned, the deliveries claimed."""

    status: str
    content: Content
    planned: bool
    batch: list[Claimed]


@dataclass
class Holder:
    """What one sender job holds: its claim token and the deliveries it has claimed (for lease renewal)."""

    token: str
    held: set[int] = field(default_factory=set)


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
                    await self._process(campaign_id, port, step.content, step.batch, holder, stop)
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

    # -- one batch ---------------------------------------------------------------------------------------
    async def _process(
        self,
        campaign_id: int,
        port: ChannelPort,
        content: Content,
        batch: Sequence[Claimed],
        holder: Holder,
        stop: asyncio.Event | None,
    ) -> None:
        settler = Settler(self, campaign_id, holder)
        entries = await self.ledger.read(campaign_id, [c.delivery_id for c in batch])
        now_ms = await _redis_ms(self.redis)
        grace_ms = int(self.config.in_doubt_grace_seconds * 1000)
        queue: list[tuple[Claimed, str]] = []  # to send, with the ledger entry the send must find
        doubtful: list[tuple[Claimed, Entry]] = []
        for c in batch:
            entry = entries.get(c.delivery_id)
            if entry is not None and entry.kind == "d":
                settler.add(Outcome(c.delivery_id, "sent", provider_id=entry.detail, attempted=False))
            elif entry is not None and entry.kind == "s" and now_ms - entry.at_ms < grace_ms:
                retry_at = datetime.fromtimestamp((entry.at_ms + grace_ms) / 1000, UTC)
                settler.add(Outcome(c.delivery_id, "release", retry_at=retry_at, attempted=False), keep=True)
            elif entry is not None and entry.kind == "s":
                doubtful.append((c, entry))
            elif not c.subscribed:
                settler.add(_skip(c))
            else:
                queue.append((c, entry.raw if entry else ""))
        for c, entry in doubtful:
            resolved = await self._resolve(campaign_id, port, content, c, entry, settler)
            if resolved is not None:
                queue.append(resolved)
        try:
            if queue:
                recheck = Recheck(self, campaign_id, [c for c, _ in queue])
                pending = list(reversed(queue))
                workers = [
                    asyncio.create_task(
                        self._worker(campaign_id, port, content, pending, holder, settler, recheck, stop)
                    )
                    for _ in range(min(self.config.concurrency, len(queue)))
                ]
                try:
                    await asyncio.gather(*workers)
                finally:
                    for task in workers:
                        task.cancel()
        finally:
            await settler.close()  # what was decided is recorded even when a send raised

    async def _resolve(
        self,
        campaign_id: int,
        port: ChannelPort,
        content: Content,
        c: Claimed,
        entry: Entry,
        settler: Settler,
    ) -> tuple[Claimed, str] | None:
        """An in-doubt delivery: what to do with it (see the module docstring)."""
        message = content.personal(c.name, self.config.greeting_fallback)
        mode: Mode = "template" if entry.detail == "template" else "text"
        if port.verifiable:
            since = datetime.fromtimestamp(entry.at_ms / 1000, UTC)
            try:
                found = await port.find(c.chat_id, message, mode, since)
            except Exception as exc:  # the platform cannot answer now: ask again on the next claim
                log.warning("in-doubt check for delivery %d failed: %s", c.delivery_id, type(exc).__name__)
                retry_at = self.clock() + timedelta(seconds=self.config.backoff_base_seconds)
                settler.add(Outcome(c.delivery_id, "release", retry_at=retry_at, attempted=False), keep=True)
                return None
            if found is not None:
                log.info("in-doubt delivery %d had reached the platform", c.delivery_id)
                settler.add(Outcome(c.delivery_id, "sent", provider_id=found, attempted=False))
                return None
            log.info("in-doubt delivery %d had not reached the platform; sending it", c.delivery_id)
        elif self.config.in_doubt == "skip":
            self.stats.in_doubt += 1
            settler.add(Outcome(c.delivery_id, "failed", error_code="in_doubt", attempted=False))
            return None
        if not c.subscribed:
            settler.add(_skip(c))
            return None
        return c, entry.raw

    async def _worker(
        self,
        campaign_id: int,
        port: ChannelPort,
        content: Content,
        pending: list[tuple[Claimed, str]],
        holder: Holder,
        settler: Settler,
        recheck: Recheck,
        stop: asyncio.Event | None,
    ) -> None:
        while pending:
            c, expected = pending.pop()
            if stop is not None and stop.is_set():
                settler.add(Outcome(c.delivery_id, "release", attempted=False), keep=True)
                continue
            decided = await self._deliver(campaign_id, port, content, c, expected, holder, recheck)
            if decided is not None:
                outcome, keep = decided
                settler.add(outcome, keep=keep)

    async def _deliver(
        self,
        campaign_id: int,
        port: ChannelPort,
        content: Content,
        c: Claimed,
        expected: str,
        holder: Holder,
        recheck: Recheck,
    ) -> tuple[Outcome, bool] | None:
        """Send one delivery; its outcome, and whether its ledger entry must be kept (maybe sent)."""
        message = content.personal(c.name, self.config.greeting_fallback)
        mode = port.mode(c.last_inbound_at, message, self.clock())
        if mode == "none":  # outside WhatsApp's 24-hour window and no template: Twilio would refuse it
            return Outcome(c.delivery_id, "failed", error_code="63016:outside_window", attempted=False), False
        channel = port.channel
        while True:
            verdict = await recheck.verdict(c.subscriber_id)
            if verdict == "skip":
                return _skip(c), False
            if verdict == "paused":  # back to the queue, as it was
                return Outcome(c.delivery_id, "release", attempted=False), True
            if verdict == "cancelled":
                return Outcome(c.delivery_id, "skipped", error_code="cancelled", attempted=False), True
            await self.limiter.acquire(channel, c.subscriber_id)
            started = await self.ledger.start(
                campaign_id, c.delivery_id, token=holder.token, mode=mode, channel=channel, expected=expected
            )
            if started.conflict:  # another claimer owns this delivery now; it is theirs to record
                self.stats.lost_claims += 1
                return None
            if not started.ok:
                await asyncio.sleep(started.wait_ms / 1000)  # the channel is paused after a 429
                continue
            try:
                message_id = await port.send(c.chat_id, message, mode)
            except RateLimited as exc:
                self.stats.throttled += 1
                await self.limiter.pause(channel, max(exc.retry_after, self.config.min_pause_seconds))
                written = await self._not_sent(campaign_id, c, started, holder, "429")
                if written is None:
                    return None
                expected = written
                continue
            except OutsideSessionWindow:
                written = await self._not_sent(campaign_id, c, started, holder, "63016")
                if written is None:
                    return None
                expected = written
                if mode == "text" and message.template_sid:
                    mode = "template"
                    continue
                return Outcome(c.delivery_id, "failed", error_code="63016:outside_window"), False
            except SendError as exc:
                failure = classify(exc, attempts=c.attempts, config=self.config, now=self.clock())
                if not failure.maybe_sent:
                    await self._not_sent(campaign_id, c, started, holder, failure.code)
                elif failure.final:
                    self.stats.in_doubt += 1
                log.info(
                    "delivery %d: %s (%s)", c.delivery_id, failure.code, "final" if failure.final else "retry"
                )
                kind: OutcomeKind = "failed" if failure.final else "retry"
                outcome = Outcome(
                    c.delivery_id,
                    kind,
                    error_code=failure.code,
                    retry_at=failure.retry_at,
                    subscriber_id=c.subscriber_id,
                    unreachable=failure.unreachable,
                    opted_out=failure.opted_out,
                )
                return outcome, failure.maybe_sent and not failure.final
            if (
                await self.ledger.done(
                    campaign_id, c.delivery_id, started, token=holder.token, message_id=message_id
                )
                is None
            ):
                log.warning("delivery %d was sent after its claim moved to another worker", c.delivery_id)
                self.stats.lost_claims += 1
            return Outcome(c.delivery_id, "sent", provider_id=message_id), False

    async def _not_sent(
        self, campaign_id: int, c: Claimed, started: Started, holder: Holder, code: str
    ) -> str | None:
        return await self.ledger.fail(campaign_id, c.delivery_id, started, token=holder.token, code=code)


def _skip(c: Claimed) -> Outcome:
    return Outcome(
        c.delivery_id, "skipped", error_code="unreachable" if c.unreachable else "opted_out", attempted=False
    )


class Settler:
    """Collects outcomes and writes them to the database in batches (every FLUSH_EVERY seconds, or at once
    when FLUSH_SIZE are waiting), then forgets their ledger entries (kept: outcomes whose message may
    have gone, and deliveries another claimer took over)."""

    def __init__(self, engine: Engine, campaign_id: int, holder: Holder) -> None:
        self.engine = engine
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
    """STOP between planning and sending, and pause/cancel mid-batch: which of a batch's subscribers are
    still opted in and reachable, and whether the campaign still runs, refreshed from the database when
    the last look is older than RECHECK_EVERY."""

    def __init__(self, engine: Engine, campaign_id: int, batch: Sequence[Claimed]) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.ids = [c.subscriber_id for c in batch]
        self.ok = {c.subscriber_id for c in batch if c.subscribed}
        self.status = "running"
        self.at = time.monotonic()
        self._lock = asyncio.Lock()

    async def verdict(self, subscriber_id: int) -> Literal["send", "skip", "paused", "cancelled"]:
        if time.monotonic() - self.at > RECHECK_EVERY:
            async with self._lock:
                if time.monotonic() - self.at > RECHECK_EVERY:
                    self.ok, self.status = await asyncio.to_thread(self._query)
                    self.at = time.monotonic()
        if self.status == "cancelled":
            return "cancelled"
        if self.status != "running":
            return "paused"
        return "send" if subscriber_id in self.ok else "skip"

    def _query(self) -> tuple[set[int], str]:
        with self.engine.db.session() as session:
            status = campaigns.load(session, self.campaign_id).status
            return sql.still_subscribed(session, self.ids), status


async def _redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


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
