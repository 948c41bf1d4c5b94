"""One claimed batch of deliveries, decided and sent (bot/broadcast/sending.py claims it).

Per delivery, in order:
1. The ledger (bot/broadcast/ledger.py) first: "done" means a crashed worker's send was accepted, so it is
   recorded as sent and not sent again; "started" and older than the grace period means in doubt (below);
   "started" and recent means its sender may still be waiting for an answer, so it is left for later.
2. STOP: a subscriber who opted out or became unreachable since planning is skipped; this is checked at
   claim time and again at most RECHECK_EVERY before each send (with pause and cancel).
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
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.broadcast.channels import ChannelPort, Content, Mode
from bot.broadcast.claims import Claimed, Outcome, OutcomeKind
from bot.broadcast.ledger import Entry, Started
from bot.broadcast.outcomes import classify
from bot.broadcast.settling import Holder, Recheck, Settler, skipped
from bot.channels.whatsapp_errors import OutsideSessionWindow
from bot.outbound import RateLimited, SendError

if TYPE_CHECKING:
    from bot.broadcast.sending import Engine

log = logging.getLogger(__name__)


class Batch:
    """Sends one claimed batch for `engine` (its config, clock, ledger, limiter and stats)."""

    def __init__(
        self,
        engine: Engine,
        campaign_id: int,
        port: ChannelPort,
        content: Content,
        holder: Holder,
        stop: asyncio.Event | None,
    ) -> None:
        self.engine = engine
        self.config = engine.config
        self.ledger = engine.ledger
        self.limiter = engine.limiter
        self.stats = engine.stats
        self.campaign_id = campaign_id
        self.port = port
        self.content = content
        self.holder = holder
        self.stop = stop

    async def run(self, batch: Sequence[Claimed]) -> None:
        """Decide and send every delivery of `batch`; returns once every outcome is in the database."""
        campaign_id = self.campaign_id
        settler = Settler(self.engine, campaign_id, self.holder)
        try:
            queue = await self._triage(batch, settler)
            if queue:
                recheck = Recheck(self.engine, campaign_id, [c for c, _ in queue])
                pending = list(reversed(queue))
                workers = [
                    asyncio.create_task(self._worker(pending, settler, recheck))
                    for _ in range(min(self.config.concurrency, len(queue)))
                ]
                try:
                    await asyncio.gather(*workers)
                finally:
                    for task in workers:
                        task.cancel()
        finally:
            await settler.close()  # what was decided is recorded even when a send raised

    async def _triage(self, batch: Sequence[Claimed], settler: Settler) -> list[tuple[Claimed, str]]:
        """What the ledger and the claim already decide; the rest, to send, each with the ledger entry
        its send must find."""
        entries = await self.ledger.read(self.campaign_id, [c.delivery_id for c in batch])
        now_ms = await _redis_ms(self.engine)
        grace_ms = int(self.config.in_doubt_grace_seconds * 1000)
        queue: list[tuple[Claimed, str]] = []
        for c in batch:
            entry = entries.get(c.delivery_id)
            if entry is not None and entry.kind == "d":
                settler.add(Outcome(c.delivery_id, "sent", provider_id=entry.detail, attempted=False))
            elif entry is not None and entry.kind == "s" and now_ms - entry.at_ms < grace_ms:
                retry_at = datetime.fromtimestamp((entry.at_ms + grace_ms) / 1000, UTC)
                settler.add(Outcome(c.delivery_id, "release", retry_at=retry_at, attempted=False), keep=True)
            elif entry is not None and entry.kind == "s":
                resolved = await self._resolve(c, entry, settler)
                if resolved is not None:
                    queue.append(resolved)
            elif not c.subscribed:
                settler.add(skipped(c.delivery_id, "unreachable" if c.unreachable else "opted_out"))
            else:
                queue.append((c, entry.raw if entry else ""))
        return queue

    async def _resolve(self, c: Claimed, entry: Entry, settler: Settler) -> tuple[Claimed, str] | None:
        """An in-doubt delivery: what to do with it (see the module docstring)."""
        port = self.port
        message = self.content.personal(c.name, self.config.greeting_fallback)
        mode: Mode = "template" if entry.detail == "template" else "text"
        if port.verifiable:
            since = datetime.fromtimestamp(entry.at_ms / 1000, UTC)
            try:
                found = await port.find(c.chat_id, message, mode, since)
            except Exception as exc:  # the platform cannot answer now: ask again on the next claim
                log.warning("in-doubt check for delivery %d failed: %s", c.delivery_id, type(exc).__name__)
                retry_at = self.engine.clock() + timedelta(seconds=self.config.backoff_base_seconds)
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
            settler.add(skipped(c.delivery_id, "unreachable" if c.unreachable else "opted_out"))
            return None
        return c, entry.raw

    async def _worker(self, pending: list[tuple[Claimed, str]], settler: Settler, recheck: Recheck) -> None:
        while pending:
            c, expected = pending.pop()
            if self.stop is not None and self.stop.is_set():
                settler.add(Outcome(c.delivery_id, "release", attempted=False), keep=True)
                continue
            decided = await self._deliver(c, expected, recheck)
            if decided is not None:
                outcome, keep = decided
                settler.add(outcome, keep=keep)

    async def _deliver(self, c: Claimed, expected: str, recheck: Recheck) -> tuple[Outcome, bool] | None:
        """Send one delivery; its outcome, and whether its ledger entry must be kept (maybe sent)."""
        campaign_id, port, holder = self.campaign_id, self.port, self.holder
        message = self.content.personal(c.name, self.config.greeting_fallback)
        mode = port.mode(c.last_inbound_at, message, self.engine.clock())
        if mode == "none":  # outside WhatsApp's 24-hour window and no template: Twilio would refuse it
            return Outcome(c.delivery_id, "failed", error_code="63016:outside_window", attempted=False), False
        channel = port.channel
        while True:
            verdict = await recheck.verdict(c.subscriber_id)
            if verdict in ("opted_out", "unreachable", "cancelled"):
                return skipped(c.delivery_id, verdict), verdict == "cancelled"
            if verdict == "hold":  # paused, or the quiet hours began: back to the queue, as it was
                return Outcome(c.delivery_id, "release", attempted=False), True
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
                written = await self._not_sent(c, started, "429")
                if written is None:
                    return None
                expected = written
                continue
            except OutsideSessionWindow:
                written = await self._not_sent(c, started, "63016")
                if written is None:
                    return None
                expected = written
                if mode == "text" and message.template_sid:
                    mode = "template"
                    continue
                return Outcome(c.delivery_id, "failed", error_code="63016:outside_window"), False
            except SendError as exc:
                failure = classify(exc, attempts=c.attempts, config=self.config, now=self.engine.clock())
                if not failure.maybe_sent:
                    await self._not_sent(c, started, failure.code)
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

    async def _not_sent(self, c: Claimed, started: Started, code: str) -> str | None:
        """Record that this attempt definitely did not go; the entry the next attempt must expect."""
        return await self.ledger.fail(
            self.campaign_id, c.delivery_id, started, token=self.holder.token, code=code
        )


async def _redis_ms(engine: Engine) -> int:
    seconds, micros = await engine.redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
