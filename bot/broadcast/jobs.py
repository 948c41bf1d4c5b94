"""The arq jobs a broadcast worker runs, and the supervisor that keeps campaigns moving.

    broadcast_plan(campaign_id)                  plan to the end (one planner per campaign: a slot lock)
    broadcast_slice(campaign_id, channel, slot)  send for BROADCAST_SLICE_SECONDS, then enqueue the
                                                 successor (deferred to the end of the quiet hours when
                                                 they begin) and hand it the slot lock
    <REDIS_PREFIX>bc:tend  (cron)                start scheduled campaigns that are due; for running ones,
                                                 start the planner and a sender job in every free slot
                                                 (a killed job's lock has expired), finish campaigns with
                                                 nothing left; settle dead workers' claims in paused and
                                                 cancelled campaigns

Horizontal scaling: any number of worker processes read the same queue; a campaign runs
BROADCAST_PARALLEL sender jobs per channel, wherever there is room, and they share the global rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select

from bot.broadcast import campaigns
from bot.broadcast import claims as sql
from bot.broadcast.locks import SlotLock
from bot.broadcast.model import CHANNELS, InvalidTransition
from bot.broadcast.planner import Planner
from bot.broadcast.queue import BroadcastQueue
from bot.broadcast.sending import Engine, SliceEnd
from bot.broadcast.settling import Holder
from storage.models import Delivery

log = logging.getLogger(__name__)


@dataclass
class WorkerApp:
    """What the jobs of one worker process share (built by bot/broadcast/worker.py at start-up)."""

    engine: Engine
    queue: BroadcastQueue
    planner: Planner
    name: str = field(default_factory=lambda: f"{socket.gethostname()[:40]}:{os.getpid()}")
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set on SIGTERM: finish up, hand over
    closers: list[Any] = field(default_factory=list)


def app_of(ctx: dict[str, Any]) -> WorkerApp:
    app: WorkerApp = ctx["broadcast"]
    return app


# -- sending -------------------------------------------------------------------------------------------
async def broadcast_slice(ctx: dict[str, Any], campaign_id: int, channel: str, slot: int) -> str:
    app = app_of(ctx)
    engine = app.engine
    job_id = str(ctx.get("job_id") or await app.queue.new_id("adhoc", campaign_id, channel, slot))
    lock = SlotLock(
        engine.redis,
        engine.keys.slot(campaign_id, channel, slot),
        owner=job_id,
        ttl=engine.config.lock_seconds,
    )
    if not await lock.acquire():
        return "busy"
    holder = Holder(token=f"{app.name}:{job_id.rsplit(':', 1)[-1]}")
    beat = asyncio.create_task(_heartbeat(engine, lock, holder))
    try:
        end = await engine.run_slice(campaign_id, channel, holder, stop=app.stop)
    except Exception:
        log.exception(
            "sender job for campaign %d (%s) failed; the supervisor will restart it", campaign_id, channel
        )
        end = SliceEnd("stopped")
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    if end.kind in ("again", "quiet"):
        successor = await app.queue.new_id("slice", campaign_id, channel, slot)
        # arq defers in real time, whatever clock the engine was given
        wait = 0.0 if end.resume_at is None else (end.resume_at - datetime.now(UTC)).total_seconds()
        defer_until = end.resume_at if wait > 0 else None
        await lock.hand_over(successor, engine.config.lock_seconds + max(0.0, wait))
        await app.queue.slice(campaign_id, channel, slot, job_id=successor, defer_until=defer_until)
    else:
        await lock.release()
        if end.kind == "done":
            await finish_if_complete(engine, campaign_id)
    return end.kind


async def _heartbeat(engine: Engine, lock: SlotLock, holder: Holder) -> None:
    period = min(engine.config.lock_seconds, engine.config.claim_lease_seconds) / 4
    while True:
        await asyncio.sleep(period)
        try:
            if not await lock.renew():
                log.warning("sender job lost its slot lock (stalled?); its claims stay fenced")
            await asyncio.to_thread(engine.renew, holder)
        except Exception:  # a missed beat is survivable; the next one may work
            log.exception("heartbeat failed")


# -- planning ------------------------------------------------------------------------------------------
async def broadcast_plan(ctx: dict[str, Any], campaign_id: int) -> str:
    app = app_of(ctx)
    engine = app.engine
    job_id = str(ctx.get("job_id") or await app.queue.new_id("adhoc-plan", campaign_id))
    lock = SlotLock(
        engine.redis, engine.keys.plan_lock(campaign_id), owner=job_id, ttl=engine.config.lock_seconds
    )
    if not await lock.acquire():
        return "busy"
    try:
        added = await app.planner.plan(campaign_id, renew=lock.renew)
    finally:
        await lock.release()
    return f"planned {added}"


# -- the supervisor ------------------------------------------------------------------------------------
async def broadcast_tend(ctx: dict[str, Any]) -> str:
    return await tend(app_of(ctx))


async def tend(app: WorkerApp) -> str:
    engine = app.engine
    config = engine.config
    for campaign_id in await asyncio.to_thread(_due, engine):
        with contextlib.suppress(InvalidTransition):
            await asyncio.to_thread(_start, engine, campaign_id)
            log.info("scheduled campaign %d started", campaign_id)
    running = await asyncio.to_thread(_by_status, engine, "running")
    quiet = engine.quiet.is_quiet(engine.clock())
    for campaign_id, planned in running:
        if not planned:
            await app.queue.plan(campaign_id)
        if not quiet:
            channels = await asyncio.to_thread(_channels_with_work, engine, campaign_id)
            if not planned:
                channels |= set(engine.ports)
            await app.queue.fill_slots(campaign_id, sorted(channels & set(engine.ports)), config.parallel)
        if planned:
            await finish_if_complete(engine, campaign_id)
    for status in ("paused", "cancelled"):  # dead workers' claims surface within a lease of the change
        for campaign_id, _ in await asyncio.to_thread(_by_status, engine, status, True):
            for channel in CHANNELS:
                await engine.settle_stale(campaign_id, status, channel)
    return f"{len(running)} running"


def _due(engine: Engine) -> list[int]:
    with engine.db.session() as session:
        return campaigns.due(session, engine.clock())


def _start(engine: Engine, campaign_id: int) -> None:
    with engine.db.transaction() as session:
        campaigns.transition(session, campaign_id, "start", now=engine.clock())


def _by_status(engine: Engine, status: str, with_claims: bool = False) -> list[tuple[int, bool]]:
    """Campaigns in `status`; with_claims: only those changed in the last day that still have claims."""
    with engine.db.session() as session:
        since = engine.clock() - timedelta(days=1) if with_claims else None
        rows = [(c.id, c.planned_at is not None) for c in campaigns.with_status(session, status, since=since)]
        if not with_claims:
            return rows
        claimed = select(Delivery.id).where(Delivery.status == "claimed")
        return [
            (cid, planned)
            for cid, planned in rows
            if session.scalar(select(exists(claimed.where(Delivery.campaign_id == cid))))
        ]


def _channels_with_work(engine: Engine, campaign_id: int) -> set[str]:
    with engine.db.session() as session:
        found = set()
        for channel in CHANNELS:
            query = select(Delivery.id).where(
                Delivery.campaign_id == campaign_id,
                Delivery.channel == channel,
                Delivery.status.in_(("pending", "claimed")),
            )
            if session.scalar(select(exists(query))):
                found.add(channel)
        return found


async def finish_if_complete(engine: Engine, campaign_id: int) -> bool:
    """Mark a running, fully planned campaign finished when no delivery is left pending or claimed."""
    finished = await asyncio.to_thread(_finish, engine, campaign_id)
    if finished:
        await engine.ledger.drop(campaign_id)
        log.info("campaign %d finished", campaign_id)
    return finished


def _finish(engine: Engine, campaign_id: int) -> bool:
    with engine.db.transaction() as session:
        row = campaigns.load(session, campaign_id, lock=True)
        if row.status != "running" or row.planned_at is None:
            return False
        left, _ = sql.remaining(session, campaign_id)
        if left:
            return False
        campaigns.transition(session, campaign_id, "finish", now=engine.clock())
        return True
