"""Session stores: in-process (the embedded default) and Redis (`REDIS_URL`, shared by many processes).

Both implement storage.sessions_base.SessionStore with the same semantics; the contract suite in
tests/storage/test_sessions_contract.py runs against each. Keys are namespaced under a prefix (`jb:` by
default) so one Redis can hold several deployments or test runs:

    {prefix}s:{key}      a session (JSON)          {prefix}lock:{key}  a conversation lock (owner token)
    {prefix}seen:{id}    an inbound message id     {prefix}n:{key}     a counter

Keys may carry personal data (a WhatsApp chat is keyed by a phone number), so nothing here logs a key.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import redis
from redis.exceptions import RedisError

from storage.sessions_base import HeldSession, LockTimeout, SessionStore

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "jb:"


def _dump(value: dict[str, Any]) -> str:
    if not isinstance(value, dict):
        raise TypeError(f"a session value must be a dict, not {type(value).__name__}")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_ttl(ttl_seconds: float) -> float:
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    return ttl_seconds


class MemoryStore:
    """Everything in this process, for the embedded default and for tests.

    Values are stored as JSON text so that what comes back is exactly what Redis would return (and values
    Redis could not hold are refused here too). Expired entries are dropped when read and by a periodic
    sweep, so memory stays bounded by the live entries.
    """

    _SWEEP_EVERY = 1024  # writes between sweeps of expired entries

    def __init__(self, *, prefix: str = DEFAULT_PREFIX, clock: Callable[[], float] = time.monotonic) -> None:
        self.prefix = prefix
        self._clock = clock
        self._mutex = threading.Lock()
        self._entries: dict[str, tuple[float, Any]] = {}  # namespaced key -> (expires at, value)
        self._writes = 0
        # Locks: key -> (owner token, lease expiry). One condition for all keys: contention is rare and
        # waking every waiter on a release costs little at in-process scale.
        self._locks_cond = threading.Condition()
        self._locks: dict[str, tuple[str, float]] = {}

    # -- values ----------------------------------------------------------------------------------------
    def _read(self, name: str) -> Any | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[name]
            return None
        return entry[1]

    def _write(self, name: str, value: Any, ttl_seconds: float) -> None:
        self._entries[name] = (self._clock() + ttl_seconds, value)
        self._writes += 1
        if self._writes % self._SWEEP_EVERY == 0:
            now = self._clock()
            for stale in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                del self._entries[stale]

    def get(self, key: str) -> dict[str, Any] | None:
        with self._mutex:
            text = self._read("s:" + key)
        return None if text is None else json.loads(text)

    def set(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        text = _dump(value)
        with self._mutex:
            self._write("s:" + key, text, _check_ttl(ttl_seconds))

    def delete(self, key: str) -> None:
        with self._mutex:
            self._entries.pop("s:" + key, None)

    def scan(self, prefix: str) -> Iterator[str]:
        with self._mutex:
            now = self._clock()
            found = [
                k[2:] for k, (exp, _) in self._entries.items() if k.startswith("s:" + prefix) and exp > now
            ]
        yield from found

    def first_time(self, message_id: str, ttl_seconds: float = 86_400) -> bool:
        name = "seen:" + message_id
        with self._mutex:
            if self._read(name) is not None:
                return False
            self._write(name, True, _check_ttl(ttl_seconds))
            return True

    def forget(self, message_id: str) -> None:
        with self._mutex:
            self._entries.pop("seen:" + message_id, None)

    def incr(self, key: str, ttl_seconds: float) -> int:
        name = "n:" + key
        with self._mutex:
            entry = self._entries.get(name)
            if entry is None or entry[0] <= self._clock():
                self._write(name, 1, _check_ttl(ttl_seconds))
                return 1
            self._entries[name] = (entry[0], entry[1] + 1)  # the window does not move
            return int(entry[1]) + 1

    def count(self, key: str) -> int:
        with self._mutex:
            value = self._read("n:" + key)
        return 0 if value is None else int(value)

    def ping(self) -> bool:
        return True

    # -- locks -----------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, key: str, *, timeout: float = 30.0, wait: float = 10.0) -> Iterator[None]:
        token = self._acquire(key, timeout, wait)
        try:
            yield
        finally:
            self._release(key, token)

    @contextmanager
    def hold(self, key: str, *, timeout: float = 30.0, wait: float = 10.0) -> Iterator[HeldSession]:
        token = self._acquire(key, timeout, wait)

        def save(value: dict[str, Any], ttl_seconds: float) -> None:
            self.set(key, value, ttl_seconds)
            self._release(key, token)

        held = HeldSession(self.get(key), save)
        try:
            yield held
        finally:
            if not held.saved:
                self._release(key, token)

    def _acquire(self, key: str, timeout: float, wait: float) -> str:
        token = uuid.uuid4().hex
        deadline = self._clock() + wait
        with self._locks_cond:
            while True:
                now = self._clock()
                holder = self._locks.get(key)
                if holder is None or holder[1] <= now:  # free, or its holder's lease ran out
                    self._locks[key] = (token, now + timeout)
                    return token
                if now >= deadline:
                    raise LockTimeout(f"conversation still locked after {wait:.1f}s")
                self._locks_cond.wait(min(deadline, holder[1]) - now)

    def _release(self, key: str, token: str) -> None:
        with self._locks_cond:
            holder = self._locks.get(key)
            if holder is not None and holder[0] == token:
                del self._locks[key]
                self._locks_cond.notify_all()
            else:
                log.warning("a conversation lock's lease ran out before its holder finished")


# INCR, and start the window on the first increment. PTTL < 0 also heals a counter left without an
# expiry by anything else, so no counter can live forever.
_INCR_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


# Take a conversation's lock (SET NX with a lease, the holder's token as the value) and, if taken, read its
# session in the same step.
_TAKE_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2])}
end
return {0, false}
"""

# Write the session, then release the lock if this holder still holds it: 1 released, 0 the lease ran out.
_SAVE_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""

_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

LEASE_LOST = "a conversation lock's lease ran out before its holder finished"


def _ms(seconds: float) -> int:
    return max(1, round(_check_ttl(seconds) * 1000))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore:
    """Sessions, locks, dedupe and counters in Redis, shared by every process of a deployment.

    A lock is `SET key token NX PX lease` to take (with the session read in the same script) and a Lua
    compare-and-delete to release (with the session written in the same script when the turn saves), so a
    holder whose lease ran out never frees a lock someone else holds now.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, lock_poll: float = 0.01) -> None:
        self.prefix = prefix
        self._redis = client
        self._lock_poll = lock_poll  # seconds between attempts while waiting for a lock
        self._incr = client.register_script(_INCR_SCRIPT)
        self._take = client.register_script(_TAKE_SCRIPT)
        self._save = client.register_script(_SAVE_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        client = redis.Redis.from_url(
            url, socket_timeout=5.0, socket_connect_timeout=2.0, health_check_interval=30
        )
        return cls(client, prefix=prefix)

    def close(self) -> None:
        self._redis.close()

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._redis.get(self.prefix + "s:" + key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        self._redis.set(self.prefix + "s:" + key, _dump(value), px=_ms(ttl_seconds))

    def delete(self, key: str) -> None:
        self._redis.delete(self.prefix + "s:" + key)

    def scan(self, prefix: str) -> Iterator[str]:
        head = self.prefix + "s:"
        for raw in self._redis.scan_iter(match=_glob_escape(head + prefix) + "*", count=500):
            yield raw.decode()[len(head) :]

    def first_time(self, message_id: str, ttl_seconds: float = 86_400) -> bool:
        return bool(self._redis.set(self.prefix + "seen:" + message_id, b"1", nx=True, px=_ms(ttl_seconds)))

    def forget(self, message_id: str) -> None:
        self._redis.delete(self.prefix + "seen:" + message_id)

    def incr(self, key: str, ttl_seconds: float) -> int:
        return int(self._incr(keys=[self.prefix + "n:" + key], args=[_ms(ttl_seconds)]))

    def count(self, key: str) -> int:
        raw = self._redis.get(self.prefix + "n:" + key)
        return 0 if raw is None else int(raw)

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except RedisError:
            log.warning("redis did not answer a ping", exc_info=True)
            return False

    @contextmanager
    def lock(self, key: str, *, timeout: float = 30.0, wait: float = 10.0) -> Iterator[None]:
        with self.hold(key, timeout=timeout, wait=wait):  # leaving without saving writes nothing
            yield

    @contextmanager
    def hold(self, key: str, *, timeout: float = 30.0, wait: float = 10.0) -> Iterator[HeldSession]:
        lock_key, session_key = self.prefix + "lock:" + key, self.prefix + "s:" + key
        token = uuid.uuid4().hex
        lease = _ms(timeout)
        deadline = time.monotonic() + wait
        while True:
            taken, raw = self._take(keys=[lock_key, session_key], args=[token, lease])
            if taken:
                break
            if time.monotonic() >= deadline:
                raise LockTimeout(f"conversation still locked after {wait:.1f}s")
            time.sleep(self._lock_poll)

        def save(value: dict[str, Any], ttl_seconds: float) -> None:
            text = _dump(value)
            if not self._save(keys=[session_key, lock_key], args=[text, _ms(ttl_seconds), token]):
                log.warning(LEASE_LOST)

        held = HeldSession(None if raw is None else json.loads(raw), save)
        try:
            yield held
        finally:
            if not held.saved:
                try:
                    if not self._release(keys=[lock_key], args=[token]):
                        log.warning(LEASE_LOST)
                except RedisError as exc:  # as in `lock`: the lease frees it; do not hide the turn's outcome
                    log.warning("a conversation lock could not be released (%s)", type(exc).__name__)


def make_session_store(settings: Settings, *, prefix: str = DEFAULT_PREFIX) -> SessionStore:
    """Redis when `REDIS_URL` is set, else an in-process store (state is then lost on restart)."""
    if settings.redis_url:
        return RedisStore.from_url(settings.redis_url, prefix=prefix)
    return MemoryStore(prefix=prefix)
