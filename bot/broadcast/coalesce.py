"""Lua script calls of concurrent sends, pipelined: the calls made while a round trip is under way go to
Redis together in the next one (one write, one read, one connection from the pool for all of them).

Each caller still awaits its own call's answer, as with `Script.__call__`: a send's ledger entry is in
Redis before its HTTP request starts, exactly as before; only calls from different sends share a round
trip. Redis runs each script atomically, in the order sent. With 32 sends in flight a worker makes one
round trip for several ledger writes instead of one each (a redis-py round trip costs about 100 µs of
CPU, most of the engine's cost per message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

Call = tuple[Any, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]  # (script, keys, args, answer)


class ScriptBatcher:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._queue: list[Call] = []
        self._running: asyncio.Task[None] | None = None

    async def call(self, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run `script` (from `Redis.register_script`) with these keys and arguments; its answer."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((script, keys, args, answer))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        while self._queue:
            calls, self._queue = self._queue, []
            try:
                results = await self._run(calls)
            except asyncio.CancelledError:
                for *_, answer in calls:
                    answer.cancel()
                raise
            except Exception as exc:  # the round trip failed: every caller in it gets the error
                for *_, answer in calls:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (*_, answer), result in zip(calls, results, strict=True):
                if answer.done():
                    continue
                if isinstance(result, Exception):
                    answer.set_exception(result)
                else:
                    answer.set_result(result)

    async def _run(self, calls: list[Call]) -> list[Any]:
        results = await self._pipeline(calls)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:  # Redis restarted or its scripts were flushed: load them, run those calls again
            for script in {id(calls[i][0]): calls[i][0] for i in missing}.values():
                script.sha = await self.redis.script_load(script.script)
            again = await self._pipeline([calls[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _pipeline(self, calls: list[Call]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for script, keys, args, _ in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))
