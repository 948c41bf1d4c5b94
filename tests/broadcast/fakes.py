"""The local Telegram and Twilio servers (tests/fakes/), with what broadcasting needs on top:

- Twilio's message list (`GET …/Messages.json?To=…&From=…&PageSize=…`, newest first), which the
  broadcast reads to settle a send left in doubt by a crashed worker;
- the platforms' own rate limits, optionally: a token bucket holding one second of `rate` (the platform
  tolerates short bursts but not a sustained excess), answering 429 with retry_after when it is empty,
  and Telegram's per-chat limit; what was refused is counted (`limited`);
- TCP_NODELAY on the servers' sockets, so a keep-alive connection does not wait 40 ms on delayed ACKs
  (Nagle) between requests: the benchmark measures the bot, not the kernel's timers.

Both remain real HTTP peers (a daemon thread each), usable from the test process or a separate one.
"""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import telegram_api, twilio_api
from tests.fakes.telegram_api import SEND_METHODS, FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI


class TokenBucket:
    """`rate` tokens per second, holding at most `burst` (thread-safe)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # several workers open their connection pools at once


def _serve(api: Any, handler_base: type, name: str) -> None:
    handler = type("Handler", (handler_base,), {"api": api, "disable_nagle_algorithm": True})
    api._server = _Server(("127.0.0.1", 0), handler)
    server = api._server
    # a short poll interval: close() (server.shutdown) waits for it, and tests start many servers
    api._thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name=name, daemon=True
    )
    api._thread.start()


class BroadcastTelegramAPI(FakeTelegramAPI):
    def __init__(self, *, rate: float | None = None, chat_rate: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = TokenBucket(rate) if rate else None
        self.chat_rate = chat_rate
        self._chats: dict[str, TokenBucket] = {}
        self.limited = 0  # sends refused with 429 because the bot went too fast

    def start(self) -> BroadcastTelegramAPI:
        _serve(self, telegram_api._Handler, "fake-telegram")
        return self

    def __enter__(self) -> BroadcastTelegramAPI:
        return self.start()

    def reset(self) -> None:
        """Forget every call, scripted failure and block (one server can serve many tests)."""
        with self._cond:
            self._state = telegram_api._State()
            self._chats.clear()
            self.limited = 0

    def _take_failure(self, method: str, params: dict[str, Any]) -> Any:
        failure = super()._take_failure(method, params)
        if failure is not None or method not in SEND_METHODS:
            return failure
        chat = str(params.get("chat_id", ""))
        wait = self.bucket.take() if self.bucket else 0.0
        if not wait and self.chat_rate:
            bucket = self._chats.setdefault(chat, TokenBucket(self.chat_rate, burst=1))
            wait = bucket.take()
        if not wait:
            return None
        self.limited += 1
        retry = max(1, round(wait))
        return telegram_api._Failure(method, 429, f"Too Many Requests: retry after {retry}", retry, chat, 1)


class BroadcastTwilioAPI(FakeTwilioAPI):
    def __init__(self, *, rate: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = TokenBucket(rate) if rate else None
        self.limited = 0

    def start(self) -> BroadcastTwilioAPI:
        _serve(self, twilio_api._Handler, "fake-twilio")
        return self

    def __enter__(self) -> BroadcastTwilioAPI:
        return self.start()

    def reset(self) -> None:
        """Forget every request, message, scripted failure and unsubscribed number."""
        with self._lock:
            self._state = twilio_api._State()
            self.limited = 0

    def _answer(
        self, method: str, path: str, auth: str | None, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        bare, _, query = path.partition("?")
        match = twilio_api._MESSAGES.match(bare)
        if match is not None and method == "GET" and not match["sid"]:
            if not self._authorized(auth) or match["account"] != self.account_sid:
                return 401, twilio_api._error(20003, 401)
            return 200, self._list(bare, dict(parse_qsl(query)))
        if match is not None and method == "POST" and self.bucket is not None and self.bucket.take():
            with self._lock:
                self.limited += 1
            return 429, twilio_api._error(20429, 429)
        return super()._answer(method, path, auth, params)

    def _list(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        size = int(query.get("PageSize", 50))
        with self._lock:
            messages = [
                dict(m)
                for m in reversed(self._state.messages.values())  # newest first, as Twilio lists them
                if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])
            ][:size]
        return {
            "messages": messages,
            "end": max(0, len(messages) - 1),
            "first_page_uri": path,
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": path,
        }
