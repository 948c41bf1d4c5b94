"""The send ledger: what happened to each delivery between "about to call the platform" and "recorded in
the database", in Redis, so a crash in between loses as little as possible.

One hash per campaign, field = delivery id:

    s|<ms>|<token>|<mode>   the send was started at <ms> (Redis server time) by claimer <token>
    d|<ms>|<token>|<id>     the platform accepted it, with message id <id>
    x|<ms>|<token>|<code>   it definitely did not go (refused, 429, could not connect): safe to send again

`start` is written right before the HTTP request (after the rate limiter's wait) and `done` right after
the answer, each one Redis round trip (shared with other sends' writes: bot/broadcast/coalesce.py), each
awaited before the send goes on: the only window in which a crash leaves a delivery "in doubt" is the
request itself. Rows are settled in the database in batches; their entries are deleted after that.
Both writes are compare-and-set on the entry the writer last saw, so two claimers can never both start
the same delivery, and a claimer that lost its claim cannot overwrite its successor's entry.

`start` also refuses while the channel is paused by a 429 (the pause key), returning the time left, so a
send that booked a rate-limit slot before the pause does not go out during it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from bot.broadcast.coalesce import ScriptBatcher
from bot.broadcast.keys import Keys

TTL_MS = 30 * 86_400_000  # an abandoned campaign's ledger disappears after 30 days

_START = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return {1, paused - now} end
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[4] then return {2, 0} end
redis.call('HSET', KEYS[1], ARGV[1], 's|' .. now .. '|' .. ARGV[2] .. '|' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {0, now}
"""

_FINISH = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local value = ARGV[3] .. '|' .. now .. '|' .. ARGV[4] .. '|' .. ARGV[5]
redis.call('HSET', KEYS[1], ARGV[1], value)
return value
"""


@dataclass(frozen=True)
class Entry:
    kind: str  # "s" started, "d" done, "x" definitely not sent
    at_ms: int
    token: str
    detail: str  # mode for "s", message id for "d", error code for "x"
    raw: str

    @classmethod
    def parse(cls, raw: str) -> Entry:
        kind, at, token, detail = raw.split("|", 3)
        return cls(kind, int(at), token, detail, raw)


@dataclass(frozen=True)
class Started:
    """The answer of `start`: ok, or paused for `wait_ms`, or `conflict` (someone else's entry)."""

    ok: bool
    wait_ms: int = 0
    conflict: bool = False
    raw: str = ""  # the entry written (what `done` / `fail` must find)


class Ledger:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._start: Any = redis.register_script(_START)
        self._finish: Any = redis.register_script(_FINISH)
        self._scripts = ScriptBatcher(redis)  # concurrent sends' writes share round trips

    async def read(self, campaign_id: int, delivery_ids: list[int]) -> dict[int, Entry]:
        if not delivery_ids:
            return {}
        values = await self.redis.hmget(self.keys.ledger(campaign_id), [str(i) for i in delivery_ids])
        return {
            delivery_id: Entry.parse(value.decode() if isinstance(value, bytes) else str(value))
            for delivery_id, value in zip(delivery_ids, values, strict=True)
            if value
        }

    async def start(
        self, campaign_id: int, delivery_id: int, *, token: str, mode: str, channel: str, expected: str = ""
    ) -> Started:
        """Record that this send starts now, if the entry is still `expected` ("" = none) and the channel
        is not paused."""
        code, value = await self._scripts.call(
            self._start,
            keys=[self.keys.ledger(campaign_id), self.keys.pause(channel)],
            args=[str(delivery_id), token, mode, expected, TTL_MS],
        )
        if int(code) == 1:
            return Started(False, wait_ms=int(value))
        if int(code) == 2:
            return Started(False, conflict=True)
        return Started(True, raw=f"s|{int(value)}|{token}|{mode}")

    async def done(
        self, campaign_id: int, delivery_id: int, started: Started, *, token: str, message_id: str
    ) -> str | None:
        """The platform accepted the message: the entry written, or None when the entry is no longer ours
        (the caller logs it: a successor may be about to send the message too)."""
        return await self._set(campaign_id, delivery_id, started, "d", token, message_id)

    async def fail(
        self, campaign_id: int, delivery_id: int, started: Started, *, token: str, code: str
    ) -> str | None:
        """The message definitely did not go (sending it again cannot duplicate it): the entry written
        (what the next `start` of this delivery must expect), or None when it is no longer ours."""
        return await self._set(campaign_id, delivery_id, started, "x", token, code)

    async def _set(
        self, campaign_id: int, delivery_id: int, started: Started, kind: str, token: str, detail: str
    ) -> str | None:
        result = await self._scripts.call(
            self._finish,
            keys=[self.keys.ledger(campaign_id)],
            args=[str(delivery_id), started.raw, kind, token, detail],
        )
        if not result:
            return None
        return result.decode() if isinstance(result, bytes) else str(result)

    async def forget(self, campaign_id: int, delivery_ids: list[int]) -> None:
        """Drop entries whose outcome the database now holds."""
        if delivery_ids:
            await self.redis.hdel(self.keys.ledger(campaign_id), *[str(i) for i in delivery_ids])

    async def drop(self, campaign_id: int) -> None:
        await self.redis.delete(self.keys.ledger(campaign_id))
