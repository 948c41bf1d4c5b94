"""The session store interface: per-conversation state with TTLs, a per-conversation lock, inbound message
dedupe and small counters (rate limits). Implementations: storage/sessions.py (memory, Redis).

Contract shared by every implementation (tests/storage/test_sessions_contract.py runs it against each):
- Values are JSON objects. `set` refuses anything `json.dumps` refuses (TypeError), and `get` returns a fresh
  copy, so mutating it never changes what is stored.
- TTLs are seconds (fractions allowed); an expired entry reads as absent.
- Session keys, lock keys, dedupe ids and counter keys live in separate namespaces: the same string may be
  used as a session key and as a counter key without collision.
- Every method is safe to call from many threads, and (for shared backends) from many processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol


class LockTimeout(Exception):
    """The conversation stayed locked by another turn for longer than the wait allowed."""


class HeldSession:
    """A conversation's session read under its lock (see SessionStore.hold). `save` may be called once:
    it writes the new value and, in the same step, gives the lock up."""

    def __init__(self, value: dict[str, Any] | None, write: Callable[[dict[str, Any], float], None]) -> None:
        self.value = value
        self._write = write
        self.saved = False

    def save(self, value: dict[str, Any], ttl_seconds: float) -> None:
        if self.saved:
            raise RuntimeError("a held session is saved once; the lock went with the first save")
        self._write(value, ttl_seconds)
        self.saved = True


class SessionStore(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def lock(self, key: str, *, timeout: float = 30.0, wait: float = 10.0) -> AbstractContextManager[None]:
        """Hold the conversation's lock; released on exit, expires after `timeout` if the holder dies.

        Take it *before* loading the conversation's state. Waits up to `wait` seconds for another holder,
        then raises LockTimeout. A holder whose lease ran out (it took longer than `timeout`) releases
        nothing on exit: it never frees a lock that another turn has taken since.
        """
        ...

    def hold(
        self, key: str, *, timeout: float = 30.0, wait: float = 10.0
    ) -> AbstractContextManager[HeldSession]:
        """`lock` and `get` in one step, and `set` and unlock in one step (`HeldSession.save`): a turn's
        whole use of the store, in two round trips to a shared store instead of four. Leaving the block
        without saving writes nothing and releases the lock. Same lease and wait rules as `lock`."""
        ...

    def first_time(self, message_id: str, ttl_seconds: float = 86_400) -> bool:
        """Atomically record an inbound message id; True the first time, False for every repeat."""
        ...

    def forget(self, message_id: str) -> None:
        """Undo `first_time` for a message whose turn failed, so a platform retry is processed."""
        ...

    def incr(self, key: str, ttl_seconds: float) -> int:
        """Increment a counter that expires `ttl_seconds` after its first increment; return the new value."""
        ...

    def count(self, key: str) -> int:
        """The counter's current value; 0 when it never existed or has expired."""
        ...

    def ping(self) -> bool: ...

    def scan(self, prefix: str) -> Iterator[str]:
        """Keys of stored sessions that start with prefix (for maintenance, not the hot path)."""
        ...
