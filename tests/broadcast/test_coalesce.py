"""Pipelined script calls (bot/broadcast/coalesce.py) on the real Redis: each caller gets its own answer,
concurrent calls share round trips, a script Redis does not know yet is loaded, a failing call fails
alone, and a lost connection fails every call that was in its round trip."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from redis.exceptions import ConnectionError, ResponseError

from bot.broadcast.coalesce import ScriptBatcher

pytestmark = pytest.mark.redis

# a script text of this test's own, so Redis has never seen it (the first round trip meets NOSCRIPT)
INCR = "-- {tag}\nreturn {{redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[2]}}"


def _incr(redis: aioredis.Redis) -> object:
    return redis.register_script(INCR.format(tag=secrets.token_hex(8)))


async def test_each_caller_gets_its_own_answer_in_shared_round_trips(
    arq_redis: ArqRedis, prefix: str
) -> None:
    script, key = _incr(arq_redis), f"{prefix}counter"
    batcher = ScriptBatcher(arq_redis)
    trips = 0
    pipeline = batcher._pipeline

    async def counted(calls: list[Any]) -> list[Any]:
        nonlocal trips
        trips += 1
        return await pipeline(calls)

    batcher._pipeline = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(*(batcher.call(script, [key], [1, f"caller {n}"]) for n in range(50)))
    assert sorted(int(total) for total, _ in answers) == list(range(1, 51))  # each ran exactly once
    assert [tag.decode() for _, tag in answers] == [f"caller {n}" for n in range(50)]
    assert await arq_redis.get(key) == b"50"
    assert trips <= 4  # NOSCRIPT, the same calls again, then at most the calls made meanwhile


async def test_a_failing_call_fails_alone(arq_redis: ArqRedis, prefix: str) -> None:
    script, key = _incr(arq_redis), f"{prefix}counter"
    batcher = ScriptBatcher(arq_redis)
    await batcher.call(script, [key], [1, "load"])
    results: tuple[Any, ...] = await asyncio.gather(
        batcher.call(script, [key], [1, "good"]),
        batcher.call(script, [key], ["not a number", "bad"]),
        return_exceptions=True,
    )
    good, bad = results
    assert isinstance(bad, ResponseError) and not isinstance(good, BaseException)
    assert good[1] == b"good"
    assert await arq_redis.get(key) == b"2"


async def test_a_lost_connection_fails_every_call_in_the_round_trip() -> None:
    unreachable = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    batcher = ScriptBatcher(unreachable)
    script = _incr(unreachable)
    results = await asyncio.gather(
        *(batcher.call(script, ["k"], [1, str(n)]) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    await unreachable.aclose()  # type: ignore[attr-defined]
