"""The inbox contract (bot/inbox.py), run against the in-process inbox and the real Redis one."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis

from bot.inbox import Inbox, MemoryInbox
from bot.inbox_redis import RedisInbox
from bot.messages import InboundMessage
from flows.replies import Button, Reply
from storage.crypto import Vault

MakeInbox = Callable[..., Inbox]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[MakeInbox]:
    made: list[Inbox] = []
    prefix = request.getfixturevalue("redis_prefix") if request.param == "redis" else ""

    def factory(lease: float = 30.0) -> Inbox:
        inbox: Inbox
        if request.param == "memory":
            inbox = MemoryInbox(lease_seconds=lease)
        else:
            inbox = RedisInbox.from_url(
                request.getfixturevalue("redis_url"), lease_seconds=lease, prefix=prefix
            )
        made.append(inbox)
        return inbox

    yield factory
    for inbox in made:
        await inbox.aclose()


def msg(chat: str, text: str, message_id: str | None = None, **kwargs: object) -> InboundMessage:
    return InboundMessage("telegram", chat, text, message_id=message_id, **kwargs)  # type: ignore[arg-type]


async def test_a_submitted_message_is_claimed_then_done(make: MakeInbox) -> None:
    inbox = make()
    assert await inbox.submit(msg("1", "halo", "u1"))
    assert await inbox.waiting() == 1
    claim = await inbox.claim(wait=0)
    assert claim is not None and claim.message.text == "halo" and claim.replies is None
    assert await inbox.done(claim) is None
    assert await inbox.waiting() == 0
    assert await inbox.claim(wait=0) is None


async def test_every_field_of_a_message_survives(make: MakeInbox) -> None:
    inbox = make()
    original = InboundMessage(
        channel="whatsapp",
        chat_id="+6281234567890",
        text="daftar 🙏 ñ",
        message_id="SM123",
        phone="+6281234567890",
        display_name="Budi",
        start_param="kkbc_tanahabang",
        metadata={"kind": "non_text", "callback_query_id": "42"},
        received_at=datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
    )
    await inbox.submit(original)
    claim = await inbox.claim(wait=0)
    assert claim is not None and claim.message == original


async def test_a_repeated_message_id_is_kept_once(make: MakeInbox) -> None:
    inbox = make()
    assert await inbox.submit(msg("1", "halo", "u1"))
    assert not await inbox.submit(msg("1", "halo", "u1"))
    assert await inbox.submit(msg("1", "halo", "u1-other"))
    assert await inbox.submit(msg("1", "no id"))
    assert await inbox.submit(msg("1", "no id"))  # no platform id: never deduped
    texts = []
    claim = await inbox.claim(wait=0)
    while claim is not None:
        texts.append(claim.message.text)
        claim = await inbox.done(claim)
    assert texts == ["halo", "halo", "no id", "no id"]


async def test_the_same_id_on_another_channel_is_another_message(make: MakeInbox) -> None:
    inbox = make()
    assert await inbox.submit(InboundMessage("telegram", "1", "a", message_id="7"))
    assert await inbox.submit(InboundMessage("whatsapp", "1", "a", message_id="7"))


async def test_a_chat_is_held_by_one_claim_and_drained_in_order(make: MakeInbox) -> None:
    inbox = make()
    for n in range(4):
        await inbox.submit(msg("A", f"a{n}", f"a{n}"))
    await inbox.submit(msg("B", "b0", "b0"))
    first = await inbox.claim(wait=0)
    second = await inbox.claim(wait=0)
    assert first is not None and second is not None
    assert (first.message.text, second.message.text) == ("a0", "b0")  # A is held: B's turn, not a1
    assert await inbox.claim(wait=0) is None
    texts = [first.message.text]
    claim: object = await inbox.done(first)
    while claim is not None:
        assert claim.token == first.token  # type: ignore[attr-defined]
        texts.append(claim.message.text)  # type: ignore[attr-defined]
        claim = await inbox.done(claim)  # type: ignore[arg-type]
    assert texts == ["a0", "a1", "a2", "a3"]


async def test_chats_are_served_oldest_first(make: MakeInbox) -> None:
    inbox = make()
    for chat in ("C", "A", "B"):
        await inbox.submit(msg(chat, chat))
        await asyncio.sleep(0.003)  # distinct submit times (Redis orders by milliseconds)
    order = []
    for _ in range(3):
        claim = await inbox.claim(wait=0)
        assert claim is not None
        order.append(claim.message.text)
    assert order == ["C", "A", "B"]


async def test_a_dead_holders_chat_is_handed_out_again_after_the_lease(make: MakeInbox) -> None:
    inbox = make(lease=0.3)
    await inbox.submit(msg("A", "a0", "a0"))
    await inbox.submit(msg("A", "a1", "a1"))
    dead = await inbox.claim(wait=0)
    assert dead is not None
    assert await inbox.claim(wait=0) is None  # leased
    again = await inbox.claim(wait=5)  # the holder never renews: after 0.3 s the chat is free
    assert again is not None and again.message.text == "a0" and again.token != dead.token
    assert await inbox.done(dead) is None  # the old holder lost the chat and removes nothing
    nxt = await inbox.done(again)
    assert nxt is not None and nxt.message.text == "a1"


async def test_renewing_keeps_the_chat(make: MakeInbox) -> None:
    inbox = make(lease=0.4)
    await inbox.submit(msg("A", "a0"))
    claim = await inbox.claim(wait=0)
    assert claim is not None
    for _ in range(8):  # 0.8 s in all, twice the lease
        await asyncio.sleep(0.1)
        assert await inbox.renew(claim)
        assert await inbox.claim(wait=0) is None


async def test_an_expired_lease_nobody_took_still_belongs_to_its_holder(make: MakeInbox) -> None:
    inbox = make(lease=0.1)
    await inbox.submit(msg("A", "a0"))
    claim = await inbox.claim(wait=0)
    assert claim is not None
    await asyncio.sleep(0.2)
    assert await inbox.renew(claim)
    assert await inbox.done(claim) is None
    assert await inbox.waiting() == 0


async def test_recorded_replies_come_back_with_a_redelivery(make: MakeInbox) -> None:
    inbox = make(lease=0.2)
    await inbox.submit(msg("A", "a0", "a0"))
    claim = await inbox.claim(wait=0)
    assert claim is not None
    replies = [Reply("Halo! 👋", (Button("Daftar BPU", "/register"), Button("Cek status", "/check_status")))]
    recorded = await inbox.record_replies(claim, replies)
    assert recorded is not None and recorded.replies == replies
    again = await inbox.claim(wait=5)
    assert again is not None and again.message.text == "a0" and again.replies == replies
    assert await inbox.record_replies(claim, []) is None  # the old holder cannot overwrite them


async def test_retry_later_counts_an_attempt_and_waits(make: MakeInbox) -> None:
    inbox = make()
    await inbox.submit(msg("A", "a0"))
    claim = await inbox.claim(wait=0)
    assert claim is not None and claim.attempts == 0
    await inbox.retry_later(claim, 0.3)
    assert await inbox.claim(wait=0) is None  # not before the delay
    again = await inbox.claim(wait=5)
    assert again is not None and again.attempts == 1 and again.message.text == "a0"
    await inbox.retry_later(again, 0)
    third = await inbox.claim(wait=1)
    assert third is not None and third.attempts == 2


async def test_release_gives_the_chat_back_untouched(make: MakeInbox) -> None:
    inbox = make()
    await inbox.submit(msg("A", "a0"))
    claim = await inbox.claim(wait=0)
    assert claim is not None
    await inbox.release(claim)
    again = await inbox.claim(wait=1)
    assert again is not None and again.attempts == 0 and again.entry_id == claim.entry_id
    assert not await inbox.renew(claim)


async def test_an_idle_claim_wakes_up_on_submit(make: MakeInbox) -> None:
    inbox = make()
    waiting = asyncio.create_task(inbox.claim(wait=10))
    await asyncio.sleep(0.05)
    submitter = make() if isinstance(inbox, RedisInbox) else inbox  # Redis: as if from another process
    await submitter.submit(msg("A", "a0"))
    claim = await asyncio.wait_for(waiting, 10)
    assert claim is not None and claim.message.text == "a0"


async def test_many_concurrent_submits_keep_each_chats_order(make: MakeInbox) -> None:
    inbox = make()
    await asyncio.gather(*(inbox.submit(msg(f"c{n % 5}", str(n), f"id{n}")) for n in range(100)))
    await asyncio.gather(*(inbox.submit(msg(f"c{n % 5}", str(n), f"id{n}")) for n in range(100)))  # repeats
    seen: dict[str, list[int]] = {}
    claim = await inbox.claim(wait=0)
    while claim is not None:
        seen.setdefault(claim.message.chat_id, []).append(int(claim.message.text))
        claim = await inbox.done(claim) or await inbox.claim(wait=0)
    assert sorted(n for ns in seen.values() for n in ns) == list(range(100))
    assert all(ns == sorted(ns) for ns in seen.values())


# -- Redis only ----------------------------------------------------------------------------------------------
@pytest.mark.redis
async def test_redis_entries_are_sealed_when_a_key_is_given(redis_url: str, redis_prefix: str) -> None:
    vault = Vault([secrets.token_bytes(32)])
    inbox = RedisInbox.from_url(redis_url, sealer=vault, prefix=redis_prefix)
    try:
        await inbox.submit(msg("A", "nik saya 3201014506900003", "u1", display_name="Siti Rahma"))
        # the chat is named by a keyed hash in key names (a WhatsApp chat id would be a phone number)
        chat_key = f"{redis_prefix}inbox:chat:" + vault.blind_index("inbox", "telegram:A").hex()
        raw = redis.Redis.from_url(redis_url).lrange(chat_key, 0, -1)
        assert len(raw) == 1 and b"3201014506900003" not in raw[0] and b"Siti" not in raw[0]
        claim = await inbox.claim(wait=0)
        assert claim is not None and claim.message.text == "nik saya 3201014506900003"
        await inbox.record_replies(claim, [Reply("NIK 3201********0003, Siti Rahma")])
        raw = redis.Redis.from_url(redis_url).lrange(chat_key, 0, -1)
        assert b"Siti" not in raw[0]
    finally:
        await inbox.aclose()


@pytest.mark.redis
async def test_redis_dedupe_and_claims_are_shared_between_processes(
    redis_url: str, redis_prefix: str
) -> None:
    one = RedisInbox.from_url(redis_url, prefix=redis_prefix)
    two = RedisInbox.from_url(redis_url, prefix=redis_prefix)
    try:
        assert await one.submit(msg("A", "a0", "u1"))
        assert not await two.submit(msg("A", "a0", "u1"))
        await two.submit(msg("A", "a1", "u2"))
        claim = await two.claim(wait=0)
        assert claim is not None and claim.message.text == "a0"
        assert await one.claim(wait=0) is None
        nxt = await two.done(claim)
        assert nxt is not None and nxt.message.text == "a1"
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.redis
async def test_an_unsealed_reader_refuses_sealed_entries(redis_url: str, redis_prefix: str) -> None:
    sealed = RedisInbox.from_url(redis_url, sealer=Vault([secrets.token_bytes(32)]), prefix=redis_prefix)
    plain = RedisInbox.from_url(redis_url, prefix=redis_prefix)
    try:
        await sealed.submit(msg("A", "a0"))
        with pytest.raises(ValueError, match="data key"):
            await plain.claim(wait=0)
    finally:
        await sealed.aclose()
        await plain.aclose()
