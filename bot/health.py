"""GET /health: 200 with the state of each dependency, so an operator sees what is degraded.

It answers fast whatever the dependencies do: the probes run at once, each in a daemon thread of its own
(not in the request thread pool, which hung turns may have used up), and a probe that has not answered
within PROBE_TIMEOUT_SECONDS reports "down". A probe still hanging from an earlier request is not started
again, so a dead dependency costs at most one thread per probe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from fastapi import APIRouter, Request

log = logging.getLogger(__name__)
router = APIRouter()

PROBE_TIMEOUT_SECONDS = 2.0


class Prober:
    """Runs named probes (callables returning True when their dependency answers) with a time bound."""

    def __init__(self, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._running: dict[str, Future[str]] = {}

    async def states(self, probes: Mapping[str, Callable[[], bool]]) -> dict[str, str]:
        """ "ok" or "down" for each probe, within about `timeout` seconds."""
        with self._mutex:
            futures = {name: self._current(name, probe) for name, probe in probes.items()}
        waiting = {name: asyncio.wrap_future(f) for name, f in futures.items()}
        await asyncio.wait(waiting.values(), timeout=self.timeout)
        states: dict[str, str] = {}
        for name, future in waiting.items():
            if future.done():
                states[name] = future.result()
            else:
                log.warning("health probe %s did not answer within %.1fs", name, self.timeout)
                states[name] = "down"
        return states

    def _current(self, name: str, probe: Callable[[], bool]) -> Future[str]:
        running = self._running.get(name)
        if running is not None and not running.done():
            return running  # still hanging since an earlier request: wait on it, start nothing new
        future: Future[str] = Future()
        self._running[name] = future
        # A daemon thread, not a pool: a probe stuck forever must not keep the process from exiting.
        threading.Thread(target=_run, args=(name, probe, future), name=f"health-{name}", daemon=True).start()
        return future


def _run(name: str, probe: Callable[[], bool], future: Future[str]) -> None:
    try:
        state = "ok" if probe() else "down"
    except Exception as exc:  # a health probe reports, it never raises
        log.warning("health probe %s failed: %s", name, type(exc).__name__)
        state = "down"
    future.set_result(state)


def prober_of(request: Request) -> Prober:
    prober: Prober | None = getattr(request.app.state, "health_prober", None)
    if prober is None:
        prober = request.app.state.health_prober = Prober()
    return prober


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    checks = await prober_of(request).states(runtime.health_probes())
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return {"status": status, "checks": checks}
