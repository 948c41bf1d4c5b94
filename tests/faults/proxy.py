"""A TCP proxy a fault test can cut, between the app and a real server (PostgreSQL, Redis, an HTTP API).

The shared PostgreSQL and Redis serve other developers' test runs at the same time, so a fault test never
stops them: it points the app at a proxy of its own and cuts that instead.

    with TcpProxy("127.0.0.1", 6379) as proxy:       # listens on 127.0.0.1:<free port>
        settings = ...(REDIS_URL=proxy.url("redis"))
        proxy.cut()       # every open connection is closed, new ones are refused (ECONNREFUSED): "down"
        proxy.restore()   # accepts again on the same port: the server "came back", with its data
        proxy.stall()     # accepts connections but forwards nothing either way: a hung server

The proxy runs its own asyncio loop in a daemon thread, so it works from sync and async tests alike and
never competes with the test's own event loop. `cut` and `restore` return once the change is in effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from typing import Any, Literal

Mode = Literal["open", "cut", "stall"]
CHUNK = 65_536


def free_port() -> int:
    """A port nothing listens on right now (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` until told otherwise."""

    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.mode: Mode = "open"
        self.accepted = 0  # connections accepted since start (a test can see the app reconnect)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- control (called from the test's thread) ----------------------------------------------------
    def start(self) -> TcpProxy:
        self._thread.start()
        self._run(self._listen())
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._run(self._shutdown())
            self._run(self._cancel_all())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, scheme: str, path: str = "") -> str:
        """`scheme://127.0.0.1:<port><path>`, e.g. url("redis", "/0")."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def cut(self) -> None:
        """The server is gone: close every connection through the proxy and refuse new ones."""
        self.mode = "cut"
        self._run(self._shutdown())

    def restore(self) -> None:
        """The server is back: accept and forward again (on the same port)."""
        self.mode = "open"
        self._run(self._listen())

    def stall(self) -> None:
        """The server hangs: connections are accepted (or kept) but no byte goes either way."""
        self.mode = "stall"
        self._run(self._listen())

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- inside the proxy's loop ---------------------------------------------------------------------
    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._client, "127.0.0.1", self.port, reuse_address=True, backlog=256
        )

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()  # stop listening at once: connects are refused from here on
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # RST, like a server process that died
        self._writers.clear()

    async def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.transport.abort()
            return
        self.accepted += 1
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._writers.discard(writer)
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except asyncio.CancelledError:
            pass  # the proxy is closing (asyncio's stream callback must not see a cancelled task)
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while True:
                data = await reader.read(CHUNK)
                while self.mode == "stall":  # hold the bytes (and a close): the peer sees a hung server
                    await asyncio.sleep(0.05)
                if not data or self.mode == "cut":
                    break
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.transport.abort()
