"""Slot locks: at most one live sender job per (campaign, channel, slot), and one planner per campaign.

A lock is a Redis key holding its owner's arq job id, with a TTL its owner renews. A job ending its time
slice hands the lock straight to the successor it enqueues (the key then holds the successor's id), so the
supervisor never sees the slot free between the two and never starts a second chain. A killed job's lock
expires after BROADCAST_LOCK_SECONDS and the supervisor starts a new job in the slot.
"""

from __future__ import annotations

import math
from typing import Any

from redis.asyncio import Redis

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SlotLock:
    def __init__(self, redis: Redis, key: str, *, owner: str, ttl: float) -> None:
        self.redis = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = max(1, math.ceil(ttl * 1000))
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(_RENEW)
        self._release: Any = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lock if it is free or already ours (handed over by our predecessor)."""
        return bool(int(await self._acquire(keys=[self.key], args=[self.owner, self.ttl_ms])))

    async def renew(self) -> bool:
        """Extend the TTL; False when the lock is no longer ours."""
        return bool(int(await self._renew(keys=[self.key], args=[self.owner, self.owner, self.ttl_ms])))

    async def hand_over(self, successor: str, ttl: float) -> bool:
        """Give the lock to `successor` for `ttl` seconds (it acquires it when it starts)."""
        ms = max(1, math.ceil(ttl * 1000))
        return bool(int(await self._renew(keys=[self.key], args=[self.owner, successor, ms])))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.owner])


async def is_free(redis: Redis, key: str) -> bool:
    return not await redis.exists(key)
