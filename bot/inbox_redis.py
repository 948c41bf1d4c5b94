"""The inbox in Redis, shared by every web and worker process (REDIS_URL). Design in docs/inbox.md.

Keys (prefix `jb:` by default):

    {p}inbox:chat:{conversation}   LIST    the chat's messages, oldest first; the head is the one in work
    {p}inbox:ready                 ZSET    conversation -> when it may be claimed (ms): its first submit
                                           time while waiting, the lease's end while held, now + delay
                                           after retry_later. A chat is in it exactly while its LIST is
                                           not empty.
    {p}inbox:owner:{conversation}  STRING  the token of the worker holding the chat
    {p}inbox:seen:{channel}:{id}   STRING  a submitted platform message id (SET NX, expires after a day)
    {p}inbox:wake                  LIST    a hint for idle workers blocked in BLPOP (bounded)

Every state change is one Lua script, so a process dying between two commands leaves nothing half done; a
worker that dies while holding a chat simply stops renewing, and the chat's score (its lease end) comes due,
so the next claim hands its first message out again. Times come from the Redis server's clock (TIME), so
processes with skewed clocks agree on leases. A stored entry is `<32 hex entry id><JSON>`, the JSON sealed
with the data key when a sealer is given (messages may carry a NIK). Not for Redis Cluster (the scripts
build key names).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from bot.inbox import (
    DEDUPE_TTL_SECONDS,
    DEFAULT_LEASE_SECONDS,
    Claim,
    dedupe_key,
    message_from_dict,
    message_to_dict,
    reply_from_dict,
    reply_to_dict,
)
from bot.messages import InboundMessage
from flows.replies import Reply

if TYPE_CHECKING:
    from bot.dispatcher import Sealer

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# KEYS: seen, chat, ready, wake   ARGV: entry, seen ttl ms, conversation, dedupe? ('1'/'0')
_SUBMIT = (
    "if ARGV[4] == '1' and not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then return 0 end "
    "redis.call('RPUSH', KEYS[2], ARGV[1]) " + _NOW + "redis.call('ZADD', KEYS[3], 'NX', now, ARGV[3]) "
    "redis.call('LPUSH', KEYS[4], '1') redis.call('LTRIM', KEYS[4], 0, 255) "
    "return 1"
)

# KEYS: ready   ARGV: prefix, token, lease ms, owner ttl ms
# → {conversation, entry}, or the ms until the earliest chat comes due (-1: none waiting)
_CLAIM = (
    _NOW + "for _, conv in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 16)) do "
    "  local head = redis.call('LINDEX', ARGV[1] .. 'inbox:chat:' .. conv, 0) "
    "  if head then "
    "    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), conv) "
    "    redis.call('SET', ARGV[1] .. 'inbox:owner:' .. conv, ARGV[2], 'PX', ARGV[4]) "
    "    return {conv, head} "
    "  end "
    "  redis.call('ZREM', KEYS[1], conv) "
    "end "
    "local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') "
    "if first[2] then return tonumber(first[2]) - now end "
    "return -1"
)

# KEYS: owner, ready   ARGV: token, lease ms, conversation
_RENEW = (
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    + _NOW
    + "redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3]) return 1"
)

# KEYS: owner, chat   ARGV: token, entry id, new entry
_REPLACE_HEAD = (
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "local head = redis.call('LINDEX', KEYS[2], 0) "
    "if not head or string.sub(head, 1, 32) ~= ARGV[2] then return 0 end "
    "redis.call('LSET', KEYS[2], 0, ARGV[3]) return 1"
)

# KEYS: owner, chat, ready   ARGV: token, entry id, lease ms, conversation
_DONE = (
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end "
    "local head = redis.call('LINDEX', KEYS[2], 0) "
    "if head and string.sub(head, 1, 32) == ARGV[2] then redis.call('LPOP', KEYS[2]) end "
    "local nxt = redis.call('LINDEX', KEYS[2], 0) "
    "if nxt then " + _NOW + "redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[4]) return nxt end "
    "redis.call('ZREM', KEYS[3], ARGV[4]) redis.call('DEL', KEYS[1]) return false"
)

# KEYS: owner, chat, ready   ARGV: token, entry id, new entry, delay ms, conversation
_RETRY = (
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "local head = redis.call('LINDEX', KEYS[2], 0) "
    "if head and string.sub(head, 1, 32) == ARGV[2] then redis.call('LSET', KEYS[2], 0, ARGV[3]) end "
    + _NOW
    + "redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[5]) redis.call('DEL', KEYS[1]) return 1"
)

OWNER_TTL_MS = 86_400_000  # the owner key outlives any lease; it only guards against leaks


class RedisInbox:
    """The Inbox (bot/inbox.py) on Redis. Safe to use from many processes at once."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        sealer: Sealer | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        prefix: str = "jb:",
    ) -> None:
        self._redis = client
        self._sealer = sealer
        self.lease_seconds = lease_seconds
        self.prefix = prefix
        self._ready = f"{prefix}inbox:ready"
        self._wake = f"{prefix}inbox:wake"
        self._submit = client.register_script(_SUBMIT)
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._replace = client.register_script(_REPLACE_HEAD)
        self._done = client.register_script(_DONE)
        self._retry = client.register_script(_RETRY)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisInbox:
        return cls(aioredis.Redis.from_url(url, decode_responses=True), **kwargs)

    # -- keys and entries -------------------------------------------------------------------------------
    def _conversation_id(self, msg: InboundMessage) -> str:
        """The chat's name in key names: a keyed hash, because a WhatsApp chat id is a phone number and
        key names are not sealed like the values (the message itself travels sealed in the entry)."""
        if self._sealer is None:
            return msg.conversation_key
        return self._sealer.blind_index("inbox", msg.conversation_key).hex()

    def _chat(self, conversation: str) -> str:
        return f"{self.prefix}inbox:chat:{conversation}"

    def _owner(self, conversation: str) -> str:
        return f"{self.prefix}inbox:owner:{conversation}"

    @property
    def _lease_ms(self) -> int:
        return max(1, round(self.lease_seconds * 1000))

    def _encode(self, entry_id: str, msg: InboundMessage, replies: list[Reply] | None, attempts: int) -> str:
        body: dict[str, Any] = {
            "m": message_to_dict(msg),
            "r": None if replies is None else [reply_to_dict(r) for r in replies],
        }
        if self._sealer is not None:
            body = {"s": self._sealer.seal(json.dumps(body, ensure_ascii=False).encode())}
        body["a"] = attempts
        return entry_id + json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def _decode(self, conversation: str, token: str, entry: str) -> Claim:
        entry_id, body = entry[:32], json.loads(entry[32:])
        if "s" in body:
            if self._sealer is None:
                raise ValueError("a sealed inbox entry needs the data key to be read")
            body = {**json.loads(self._sealer.unseal(body["s"])), "a": body.get("a", 0)}
        replies = body.get("r")
        return Claim(
            conversation=conversation,
            token=token,
            entry_id=entry_id,
            message=message_from_dict(body["m"]),
            replies=None if replies is None else [reply_from_dict(r) for r in replies],
            attempts=int(body.get("a", 0)),
        )

    # -- the Inbox interface ----------------------------------------------------------------------------
    async def submit(self, msg: InboundMessage) -> bool:
        key = dedupe_key(msg)
        conversation = self._conversation_id(msg)
        keys = [f"{self.prefix}inbox:seen:{key or ''}", self._chat(conversation), self._ready, self._wake]
        entry = self._encode(uuid.uuid4().hex, msg, None, 0)
        ttl_ms = round(DEDUPE_TTL_SECONDS * 1000)
        added = await self._submit(keys=keys, args=[entry, ttl_ms, conversation, "1" if key else "0"])
        return bool(added)

    async def claim(self, *, wait: float = 1.0) -> Claim | None:
        deadline = time.monotonic() + wait
        while True:
            token = uuid.uuid4().hex
            found = await self._claim(
                keys=[self._ready], args=[self.prefix, token, self._lease_ms, OWNER_TTL_MS]
            )
            if isinstance(found, list):
                conversation, entry = found
                return self._decode(conversation, token, entry)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if int(found) >= 0:  # ms until the earliest lease or delay comes due (they come due silently)
                remaining = min(remaining, int(found) / 1000 + 0.005)
            # Idle until a submit pushes a wake-up, or the next chat comes due.
            await self._redis.blpop([self._wake], timeout=max(0.01, remaining))

    async def renew(self, claim: Claim) -> bool:
        keys = [self._owner(claim.conversation), self._ready]
        return bool(await self._renew(keys=keys, args=[claim.token, self._lease_ms, claim.conversation]))

    async def record_replies(self, claim: Claim, replies: list[Reply]) -> Claim | None:
        entry = self._encode(claim.entry_id, claim.message, list(replies), claim.attempts)
        keys = [self._owner(claim.conversation), self._chat(claim.conversation)]
        if not await self._replace(keys=keys, args=[claim.token, claim.entry_id, entry]):
            return None
        return Claim(
            claim.conversation, claim.token, claim.entry_id, claim.message, list(replies), claim.attempts
        )

    async def done(self, claim: Claim) -> Claim | None:
        keys = [self._owner(claim.conversation), self._chat(claim.conversation), self._ready]
        nxt = await self._done(
            keys=keys, args=[claim.token, claim.entry_id, self._lease_ms, claim.conversation]
        )
        return self._decode(claim.conversation, claim.token, nxt) if nxt else None

    async def retry_later(self, claim: Claim, delay: float) -> None:
        entry = self._encode(claim.entry_id, claim.message, claim.replies, claim.attempts + 1)
        keys = [self._owner(claim.conversation), self._chat(claim.conversation), self._ready]
        args: list[str | int] = [
            claim.token,
            claim.entry_id,
            entry,
            max(0, round(delay * 1000)),
            claim.conversation,
        ]
        await self._retry(keys=keys, args=args)

    async def release(self, claim: Claim) -> None:
        entry = self._encode(claim.entry_id, claim.message, claim.replies, claim.attempts)
        keys = [self._owner(claim.conversation), self._chat(claim.conversation), self._ready]
        await self._retry(keys=keys, args=[claim.token, claim.entry_id, entry, 0, claim.conversation])

    async def waiting(self) -> int:
        return int(await self._redis.zcard(self._ready))

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def aclose(self) -> None:
        await self._redis.aclose()  # type: ignore[attr-defined]  # redis 5 has it; the stubs lag
