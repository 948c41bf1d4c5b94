"""Channel rate limits shared by every worker, in Redis: GCRA (the generic cell rate algorithm) with
booking ahead, plus a pause set when a platform answers 429.

Each channel has a "theoretical arrival time" (TAT) key, and each chat its own (Telegram: about 30
messages/s per bot and 1 per chat per second). `acquire` runs one Lua script, atomically and on Redis's
clock (so workers on different machines agree): the send's slot is the latest of now, the pause's end,
the channel's TAT and the chat's TAT; both TATs move one interval past it, and the caller sleeps until its
slot. Booking ahead (rather than "try, fail, retry") means N waiting senders never stampede: each gets its
own slot, and the achieved rate is the configured one, evenly spaced, with no bursts the platform could
count as flooding. A slot further ahead than `max_reserve_seconds` is not booked; the caller comes back
later (nothing is held meanwhile).

`pause(channel, seconds)` honours a 429's retry_after for the whole channel, in every worker: no slot is
handed out before the pause ends, and the ledger refuses to start a send already booked inside it.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from redis.asyncio import Redis

from bot.broadcast.config import BroadcastConfig
from bot.broadcast.keys import Keys

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local channel_us = tonumber(ARGV[1])
local chat_us = tonumber(ARGV[2])
local ahead_us = tonumber(ARGV[3])
local slot = now
local paused = tonumber(redis.call('GET', KEYS[1]) or '0') * 1000
if paused > slot then slot = paused end
if channel_us > 0 then
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tat > slot then slot = tat end
end
if chat_us > 0 then
  local tat = tonumber(redis.call('GET', KEYS[3]) or '0')
  if tat > slot then slot = tat end
end
local wait = slot - now
if wait > ahead_us then return -wait end
if channel_us > 0 then
  local tat = slot + channel_us
  redis.call('SET', KEYS[2], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
if chat_us > 0 then
  local tat = slot + chat_us
  redis.call('SET', KEYS[3], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
return wait
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > until_ms then until_ms = current end
redis.call('SET', KEYS[1], string.format('%.0f', until_ms), 'PX', until_ms - now + 1000)
redis.call('INCR', KEYS[2])
return until_ms - now
"""


class RateLimiter:
    """Global per-channel and per-chat pacing for broadcast sends."""

    def __init__(self, redis: Redis, keys: Keys, config: BroadcastConfig) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._pause: Any = redis.register_script(_PAUSE)

    async def acquire(self, channel: str, subscriber_id: int) -> None:
        """Wait for this channel's next free slot (and the chat's). Returns at the slot's time."""
        channel_us = _interval_us(self.config.channel_rate(channel))
        chat_us = _interval_us(self.config.chat_rate(channel))
        if not channel_us and not chat_us:
            return  # no limits (a pause is still honoured: the ledger will not start a send inside one)
        ahead_us = int(self.config.max_reserve_seconds * 1_000_000)
        keys = [
            self.keys.pause(channel),
            self.keys.rate(channel),
            self.keys.chat_rate(channel, subscriber_id),
        ]
        while True:
            wait = int(await self._acquire(keys=keys, args=[channel_us, chat_us, ahead_us]))
            if wait >= 0:
                if wait:
                    await asyncio.sleep(wait / 1_000_000)
                return
            # booked too far ahead (a long pause, or a deep queue): come back closer to the slot
            await asyncio.sleep(max(0.05, (-wait - ahead_us) / 1_000_000))

    async def pause(self, channel: str, seconds: float) -> float:
        """Stop handing out slots for `channel` for `seconds` (a 429's retry_after), in every worker.
        Returns the pause still ahead (a longer one already set wins)."""
        ms = max(1, math.ceil(seconds * 1000))
        left = await self._pause(keys=[self.keys.pause(channel), self.keys.throttled(channel)], args=[ms])
        return int(left) / 1000

    async def throttled(self, channel: str) -> int:
        """How many 429s this channel answered (since the counter was last reset)."""
        value = await self.redis.get(self.keys.throttled(channel))
        return int(value or 0)


def _interval_us(rate: float) -> int:
    return 0 if rate <= 0 else max(1, round(1_000_000 / rate))
