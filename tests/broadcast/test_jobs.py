"""The arq jobs and the supervisor, called in the test process with the context a worker gives them: what
they leave in the queue (arq's sorted set: job id → when it may run) and in the slot locks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis

from bot.broadcast import jobs
from bot.broadcast.jobs import WorkerApp
from bot.broadcast.service import BroadcastService
from storage.db import Database
from tests.broadcast.fakes import BroadcastTelegramAPI
from tests.broadcast.helpers import holder
from tests.broadcast.seed import seed
from tests.broadcast.test_sending import draft

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def queued(redis: ArqRedis, app: WorkerApp) -> dict[str, float]:
    """The broadcast queue: job id → the time (epoch seconds) it may start."""
    entries = await redis.zrange(app.engine.keys.queue, 0, -1, withscores=True)
    return {job.decode(): score / 1000 for job, score in entries}


def ctx(app: WorkerApp, job_id: str) -> dict[str, Any]:
    return {"broadcast": app, "job_id": job_id}


async def test_the_supervisor_starts_due_campaigns_and_fills_the_slots(
    app: WorkerApp, service: BroadcastService, db: Database, arq_redis: ArqRedis
) -> None:
    seed(db, "telegram", 3)
    seed(db, "whatsapp", 2)
    due = await service.create(draft())
    later = await service.create(draft(name="Besok"))
    now = datetime.now(UTC)
    await service.schedule(due.id, now - timedelta(seconds=1), actor="rina")
    await service.schedule(later.id, now + timedelta(days=1))
    assert (await service.unschedule(later.id)).status == "draft"
    await service.schedule(later.id, now + timedelta(days=1))
    await jobs.tend(app)
    assert (await service.get(due.id)).status == "running"
    assert (await service.get(later.id)).status == "scheduled"
    keys = app.engine.keys
    ids = set(await queued(arq_redis, app))
    assert any(i.startswith(f"{keys.base}plan:{due.id}:") for i in ids)
    slices = {tuple(i.split(":")[-4:-1]) for i in ids if i.startswith(f"{keys.base}slice:")}
    assert slices == {(str(due.id), ch, str(slot)) for ch in ("telegram", "whatsapp") for slot in range(2)}


async def test_a_sender_job_hands_its_slot_to_its_successor(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    arq_redis: ArqRedis,
    telegram: BroadcastTelegramAPI,
) -> None:
    seed(db, "telegram", 30)
    info = await service.create(draft(button=None))
    await service.start(info.id)
    await app.planner.plan(info.id)
    app.engine.config = app.engine.config.model_copy(update={"slice_seconds": 0.001, "batch_size": 10})
    first = await app.queue.new_id("slice", info.id, "telegram", 0)
    assert await jobs.broadcast_slice(ctx(app, first), info.id, "telegram", 0) == "again"
    slot = await arq_redis.get(app.engine.keys.slot(info.id, "telegram", 0))
    assert slot is not None
    successor = slot.decode()
    assert successor != first and successor in await queued(arq_redis, app)
    # a second chain for the same slot (the supervisor, arq retrying a killed job) backs off
    intruder = await app.queue.new_id("slice", info.id, "telegram", 0)
    assert await jobs.broadcast_slice(ctx(app, intruder), info.id, "telegram", 0) == "busy"
    app.engine.config = app.engine.config.model_copy(update={"slice_seconds": 30})
    assert await jobs.broadcast_slice(ctx(app, successor), info.id, "telegram", 0) == "done"
    assert await arq_redis.get(app.engine.keys.slot(info.id, "telegram", 0)) is None
    assert len(telegram.sent()) == 30


async def test_quiet_hours_defer_the_successor_to_the_morning(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    arq_redis: ArqRedis,
    telegram: BroadcastTelegramAPI,
) -> None:
    seed(db, "telegram", 2)
    info = await service.create(draft())
    await service.start(info.id)
    zone = app.engine.quiet.zone
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    night = datetime.combine(tomorrow, time(21, 5), tzinfo=zone)  # arq defers in real time: in the future
    app.engine.quiet = app.engine.quiet.__class__(time(21), time(7), zone)
    app.engine.clock = lambda: night
    job = await app.queue.new_id("slice", info.id, "telegram", 0)
    assert await jobs.broadcast_slice(ctx(app, job), info.id, "telegram", 0) == "quiet"
    slot = await arq_redis.get(app.engine.keys.slot(info.id, "telegram", 0))
    assert slot is not None
    successor = slot.decode()
    morning = datetime.combine(tomorrow + timedelta(days=1), time(7), tzinfo=zone)
    assert (await queued(arq_redis, app))[successor] == morning.timestamp()
    assert telegram.sent() == []
    before = set(await queued(arq_redis, app))
    await jobs.tend(app)  # the supervisor starts nothing during quiet hours either
    assert {i for i in set(await queued(arq_redis, app)) - before if ":slice:" in i} == set()


async def test_the_supervisor_finishes_campaigns_and_settles_dead_claims(
    app: WorkerApp, service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI
) -> None:
    seed(db, "telegram", 4)
    info = await service.create(draft(button=None))
    await service.start(info.id)
    await app.planner.plan(info.id)
    dead = holder()
    past = datetime.now(UTC) - timedelta(minutes=10)
    app.engine.clock = lambda: past
    step = await app.engine._claim_soon(info.id, "telegram", dead)
    assert step is not None and len(step.batch) == 4
    first = step.batch[0].delivery_id
    await app.engine.redis.hset(app.engine.keys.ledger(info.id), str(first), "d|1|x|777")  # it had gone out
    app.engine.clock = lambda: datetime.now(UTC)
    await service.pause(info.id)
    await jobs.tend(app)  # paused: the dead worker's claims go back to the queue, the sent one is recorded
    progress = await service.progress(info.id)
    assert (progress.sent, progress.counts["pending"], progress.counts["claimed"]) == (1, 3, 0)
    await service.resume(info.id)
    await app.engine.run_slice(info.id, "telegram", holder())
    await jobs.tend(app)
    assert (await service.progress(info.id)).status == "finished"
    assert len(telegram.sent()) == 3


async def test_the_planner_job_plans_once(app: WorkerApp, service: BroadcastService, db: Database) -> None:
    seed(db, "telegram", 7)
    info = await service.create(draft())
    await service.start(info.id)
    job = await app.queue.new_id("plan", info.id)
    assert await jobs.broadcast_plan(ctx(app, job), info.id) == "planned 7"
    assert await jobs.broadcast_plan(ctx(app, job), info.id) == "planned 0"
    assert (await service.get(info.id)).planned_at is not None
