"""Enqueueing the broadcast's arq jobs (used by the service, the jobs themselves and the supervisor).

Jobs:
    broadcast_plan(campaign_id)                 write the delivery rows (bot/broadcast/planner.py)
    broadcast_slice(campaign_id, channel, slot) send for a time slice, then hand over to a successor
    <prefix>bc:tend (cron)                       the supervisor (bot/broadcast/jobs.py)

Every job id is unique (a generation counter), under the prefix: arq refuses an id it already knows, and a
time slice must be able to enqueue its successor while it is itself still "in progress".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from arq.connections import ArqRedis

from bot.broadcast.keys import Keys
from bot.broadcast.locks import is_free

PLAN = "broadcast_plan"
SLICE = "broadcast_slice"


class BroadcastQueue:
    def __init__(self, redis: ArqRedis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def new_id(self, kind: str, *parts: object) -> str:
        generation = int(await self.redis.incr(self.keys.generation))
        return self.keys.job_id(kind, *parts, generation=generation)

    async def plan(self, campaign_id: int) -> str | None:
        """Enqueue the planner unless one holds the campaign's plan lock; the job id, or None."""
        if not await is_free(self.redis, self.keys.plan_lock(campaign_id)):
            return None
        job_id = await self.new_id("plan", campaign_id)
        await self.redis.enqueue_job(PLAN, campaign_id, _job_id=job_id, _queue_name=self.keys.queue)
        return job_id

    async def slice(
        self,
        campaign_id: int,
        channel: str,
        slot: int,
        *,
        job_id: str | None = None,
        defer_until: datetime | None = None,
    ) -> str:
        job_id = job_id or await self.new_id("slice", campaign_id, channel, slot)
        await self.redis.enqueue_job(
            SLICE,
            campaign_id,
            channel,
            slot,
            _job_id=job_id,
            _queue_name=self.keys.queue,
            _defer_until=defer_until,
        )
        return job_id

    async def fill_slots(self, campaign_id: int, channels: Iterable[str], parallel: int) -> list[str]:
        """A sender job for every free slot of these channels (a slot's lock held = a live or handed-over
        job is there); returns the job ids enqueued."""
        started = []
        for channel in channels:
            for slot in range(parallel):
                if await is_free(self.redis, self.keys.slot(campaign_id, channel, slot)):
                    started.append(await self.slice(campaign_id, channel, slot))
        return started
