"""The Redis pieces on the real Redis: the GCRA limiter's bookings and pauses, the send ledger's
compare-and-set, and slot locks with hand-over. Checked through the state they leave in Redis (the next
slot each booking moved the TAT to), not with clocks."""

from __future__ import annotations

import itertools

import pytest
from arq.connections import ArqRedis

from bot.broadcast.config import load_broadcast_config
from bot.broadcast.keys import Keys
from bot.broadcast.ledger import Entry, Ledger
from bot.broadcast.locks import SlotLock, is_free
from bot.broadcast.ratelimit import RateLimiter

pytestmark = pytest.mark.redis


async def _tat(redis: ArqRedis, key: str) -> int:
    return int(await redis.get(key) or 0)


async def test_bookings_are_spaced_by_the_channel_interval(arq_redis: ArqRedis, prefix: str) -> None:
    keys = Keys(prefix)
    limiter = RateLimiter(arq_redis, keys, load_broadcast_config(telegram_rate=50, telegram_chat_rate=0))
    tats = []
    for n in range(10):
        await limiter.acquire("telegram", subscriber_id=n)
        tats.append(await _tat(arq_redis, keys.rate("telegram")))
    # 50/s: each booking moves the channel's next free slot 20 ms further, exactly, whoever books it
    assert [b - a for a, b in itertools.pairwise(tats)] == [20_000] * 9


async def test_one_chat_waits_a_second_between_messages(arq_redis: ArqRedis, prefix: str) -> None:
    keys = Keys(prefix)
    limiter = RateLimiter(arq_redis, keys, load_broadcast_config(telegram_rate=1000, telegram_chat_rate=4))
    await limiter.acquire("telegram", subscriber_id=7)
    first = await _tat(arq_redis, keys.chat_rate("telegram", 7))
    await limiter.acquire("telegram", subscriber_id=7)
    seven = await _tat(arq_redis, keys.chat_rate("telegram", 7))
    assert seven - first == 250_000  # 4/s in one chat
    await limiter.acquire("telegram", subscriber_id=8)
    # another chat is not held back by chat 7: its slot comes before chat 7's next one
    assert await _tat(arq_redis, keys.chat_rate("telegram", 8)) - 250_000 < seven


async def test_a_pause_moves_every_booking_past_its_end(arq_redis: ArqRedis, prefix: str) -> None:
    keys = Keys(prefix)
    limiter = RateLimiter(arq_redis, keys, load_broadcast_config(telegram_rate=100, telegram_chat_rate=0))
    left = await limiter.pause("telegram", 0.4)
    assert 0.3 < left <= 0.4
    assert await limiter.pause("telegram", 0.1) > 0.3  # a shorter pause does not cut a longer one
    paused_until_ms = int(await arq_redis.get(keys.pause("telegram")) or 0)
    await limiter.acquire("telegram", subscriber_id=1)
    assert await _tat(arq_redis, keys.rate("telegram")) >= paused_until_ms * 1000 + 10_000
    assert await limiter.throttled("telegram") == 2


async def test_no_limits_means_no_bookings(arq_redis: ArqRedis, prefix: str) -> None:
    keys = Keys(prefix)
    limiter = RateLimiter(arq_redis, keys, load_broadcast_config(rate_limits=False))
    await limiter.acquire("whatsapp", subscriber_id=1)
    assert await arq_redis.get(keys.rate("whatsapp")) is None


async def test_the_ledger_lets_one_claimer_start_a_send(arq_redis: ArqRedis, prefix: str) -> None:
    ledger = Ledger(arq_redis, Keys(prefix))
    first = await ledger.start(1, 42, token="a", mode="text", channel="telegram")
    assert first.ok
    second = await ledger.start(1, 42, token="b", mode="text", channel="telegram")
    assert second.conflict  # a's entry is there: b may not start it
    (entry,) = (await ledger.read(1, [42, 43])).values()
    assert (entry.kind, entry.token, entry.detail) == ("s", "a", "text")
    # b resolved the in-doubt entry it saw and may now take over, but a can no longer finish it
    takeover = await ledger.start(1, 42, token="b", mode="template", channel="telegram", expected=entry.raw)
    assert takeover.ok
    assert await ledger.done(1, 42, first, token="a", message_id="m-a") is None
    written = await ledger.done(1, 42, takeover, token="b", message_id="m-b")
    assert written is not None and Entry.parse(written).detail == "m-b"
    await ledger.forget(1, [42])
    assert await ledger.read(1, [42]) == {}


async def test_a_definite_failure_can_be_retried(arq_redis: ArqRedis, prefix: str) -> None:
    ledger = Ledger(arq_redis, Keys(prefix))
    started = await ledger.start(2, 1, token="a", mode="text", channel="whatsapp")
    written = await ledger.fail(2, 1, started, token="a", code="429")
    assert written is not None and written.startswith("x|")
    again = await ledger.start(2, 1, token="a", mode="text", channel="whatsapp", expected=written)
    assert again.ok


async def test_the_ledger_refuses_to_start_during_a_pause(arq_redis: ArqRedis, prefix: str) -> None:
    keys = Keys(prefix)
    await RateLimiter(arq_redis, keys, load_broadcast_config()).pause("whatsapp", 5)
    refused = await Ledger(arq_redis, keys).start(3, 1, token="a", mode="text", channel="whatsapp")
    assert not refused.ok and not refused.conflict and 4000 < refused.wait_ms <= 5000
    assert await Ledger(arq_redis, keys).read(3, [1]) == {}


async def test_slot_locks_hand_over_to_the_successor(arq_redis: ArqRedis, prefix: str) -> None:
    key = Keys(prefix).slot(1, "telegram", 0)
    first = SlotLock(arq_redis, key, owner="job-1", ttl=5)
    assert await first.acquire()
    assert not await SlotLock(arq_redis, key, owner="intruder", ttl=5).acquire()
    assert await first.hand_over("job-2", ttl=5)
    assert not await first.renew()  # no longer first's
    successor = SlotLock(arq_redis, key, owner="job-2", ttl=5)
    assert await successor.acquire() and await successor.renew()
    await first.release()  # not first's to release
    assert not await is_free(arq_redis, key)
    await successor.release()
    assert await is_free(arq_redis, key)
