"""A circuit breaker for calls to a remote service, safe to share between threads.

closed ──(N consecutive failures)──▶ open ──(cool-down elapsed)──▶ half-open ──(trial succeeds)──▶ closed
                                      ▲                                 │
                                      └────────(trial fails)────────────┘

While open, calls fail at once with `CircuitOpen` (a `BackendUnavailable`), so a dead core system costs the
bot nothing but a quick "coba lagi nanti". In half-open exactly one trial call goes through at a time; the
others keep failing fast until it has answered.

Why not pybreaker: its `call` holds one lock for the whole duration of the guarded call, which serialises
every membership request of the process behind the slowest one; it also times the cool-down on the wall
clock. This class holds its lock only to read and change the state, and uses a monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from storage.membership.base import BackendUnavailable

log = logging.getLogger(__name__)

State = Literal["closed", "open", "half_open"]


class CircuitOpen(BackendUnavailable):
    """Failing fast: the service failed repeatedly and its cool-down has not elapsed (or a trial is out)."""


class CircuitBreaker:
    """Counts consecutive failures of guarded calls and fails fast while the service is considered down."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        name: str = "service",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.name = name
        self._clock = clock
        self._mutex = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_out = False

    @property
    def state(self) -> State:
        """The state as the next call would see it (an open circuit whose cool-down is over is half-open)."""
        with self._mutex:
            if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout:
                return "half_open"
            return self._state

    @contextmanager
    def guard(self, is_failure: Callable[[BaseException], bool]) -> Iterator[None]:
        """Run the block under the breaker.

        Raises CircuitOpen instead of running it while open. An exception for which `is_failure` is true
        counts as a failure; the block finishing normally counts as a success; any other exception counts
        as neither (it says nothing about the service's health) and only gives back a half-open trial.
        """
        trial = self._admit()
        try:
            yield
        except BaseException as exc:
            if is_failure(exc):
                self._record_failure(trial)
            else:
                self._give_back(trial)
            raise
        self._record_success(trial)

    def _admit(self) -> bool:
        """Let a call through or raise CircuitOpen; True when the call is the half-open trial."""
        with self._mutex:
            if self._state == "closed":
                return False
            if self._state == "open":
                if self._clock() - self._opened_at < self.reset_timeout:
                    raise CircuitOpen(f"{self.name}: circuit open after repeated failures")
                self._state = "half_open"
                log.info("%s: circuit half-open, trying one call", self.name)
            if self._trial_out:
                raise CircuitOpen(f"{self.name}: circuit half-open, a trial call is under way")
            self._trial_out = True
            return True

    def _record_success(self, trial: bool) -> None:
        with self._mutex:
            if trial:
                self._trial_out = False
                self._state = "closed"
                log.info("%s: circuit closed, the service answers again", self.name)
            if self._state == "closed":
                self._failures = 0

    def _record_failure(self, trial: bool) -> None:
        with self._mutex:
            if trial:
                self._trial_out = False
                self._open()
            elif self._state == "closed":
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._open()

    def _give_back(self, trial: bool) -> None:
        if trial:
            with self._mutex:
                self._trial_out = False

    def _open(self) -> None:
        # called with the mutex held
        self._state = "open"
        self._opened_at = self._clock()
        self._failures = 0
        log.warning("%s: circuit open for %.1fs after repeated failures", self.name, self.reset_timeout)
