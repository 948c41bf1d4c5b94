"""Planning a campaign: a delivery row for every recipient, in chunks, resumable.

Each chunk is one transaction (bot/broadcast/audience.py: INSERT … SELECT over the next BROADCAST_PLAN_BATCH
subscribers by id, duplicates ignored); the last subscriber id done is kept in Redis so a planner that
crashed resumes where it was (and redoing a chunk is harmless). Sender jobs start while planning goes on;
`planned_at` tells them, and the supervisor, that no more rows will come.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from bot.broadcast import audience as audience_sql
from bot.broadcast import campaigns
from bot.broadcast.keys import Keys
from bot.broadcast.model import Audience
from storage.db import Database

log = logging.getLogger(__name__)

CURSOR_TTL = 30 * 86_400


class Planner:
    def __init__(
        self, db: Database, redis: Redis, keys: Keys, *, batch: int, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.redis = redis
        self.keys = keys
        self.batch = batch
        self.clock = clock

    async def plan(self, campaign_id: int, *, renew: Callable[[], object] | None = None) -> int:
        """Plan the campaign to the end (or until it is cancelled); returns the rows inserted."""
        state = await asyncio.to_thread(self._state, campaign_id)
        if state is None:
            return 0
        audience, planned = state
        if planned:
            return 0
        after = int(await self.redis.get(self.keys.plan_cursor(campaign_id)) or 0)
        inserted = 0
        while True:
            added, upper = await asyncio.to_thread(self._chunk, campaign_id, audience, after)
            if upper is None:
                break
            inserted += added
            after = upper
            await self.redis.set(self.keys.plan_cursor(campaign_id), after, ex=CURSOR_TTL)
            if renew is not None:
                await _maybe_await(renew())
        await asyncio.to_thread(self._finish, campaign_id)
        await self.redis.delete(self.keys.plan_cursor(campaign_id))
        log.info("campaign %d planned: %d deliveries added", campaign_id, inserted)
        return inserted

    def _state(self, campaign_id: int) -> tuple[Audience, bool] | None:
        with self.db.session() as session:
            try:
                row = campaigns.load(session, campaign_id)
            except campaigns.CampaignNotFound:
                return None
            if row.status not in ("running", "paused"):
                return None
            return Audience.from_json(row.audience), row.planned_at is not None

    def _chunk(self, campaign_id: int, audience: Audience, after: int) -> tuple[int, int | None]:
        with self.db.transaction() as session:
            # the row lock orders this chunk with a concurrent cancel: either the cancel's "skip what is
            # pending" sees these rows, or this chunk sees the cancel
            status = campaigns.load(session, campaign_id, lock=True).status
            if status not in ("running", "paused"):  # cancelled meanwhile: stop writing rows
                return 0, None
            return audience_sql.plan_chunk(
                session, campaign_id, audience, after=after, limit=self.batch, now=self.clock()
            )

    def _finish(self, campaign_id: int) -> None:
        with self.db.transaction() as session:
            row = campaigns.load(session, campaign_id, lock=True)
            if row.status in ("running", "paused") and row.planned_at is None:
                row.planned_at = self.clock()


async def _maybe_await(value: object) -> None:
    if asyncio.iscoroutine(value):
        await value
