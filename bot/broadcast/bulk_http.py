"""The HTTP side of the broadcast worker's channel senders (bot/broadcast/bulk_telegram.py and
bulk_whatsapp.py): the bot's own senders (bot/channels/), whose single-request sends go through one
shared keep-alive aiohttp session per sender instead of the client libraries' per-message machinery.

python-telegram-bot builds a `Message` object from every answer and the Twilio SDK runs each request in a
thread over `requests`: about 2 ms of CPU per message, which capped a worker at 300–400 messages/s. Here a
campaign message is one POST of the Bot API's `sendMessage`/`sendPhoto` JSON or of Twilio's Messages form,
many in flight at once on pooled connections. Everything else stays the libraries': the error mapping
(an error answer is handed to the library's own code, so `RateLimited`, `RecipientUnreachable`,
`OutsideSessionWindow` … come out exactly as before), retries, replies that need several requests, the
webhook side and conversations.

Network failures keep aiohttp's exception as the cause, so bot/broadcast/outcomes.py can tell "never
sent" (could not connect) from "maybe sent" (the answer was lost).
"""

from __future__ import annotations

import aiohttp

CONNECT_SECONDS = 5.0  # a connection from the pool, or a new one (then: never sent)
READ_SECONDS = 10.0  # the answer (then: maybe sent)
CONNECTIONS = 100  # per sender; more sends than this wait for a pooled connection


class BulkSession:
    """One keep-alive aiohttp session, opened on first use (it must be made inside the event loop). No
    total timeout: waiting for a pooled connection (never sent) and waiting for the answer (maybe sent)
    must stay distinguishable."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, limit_per_host=0, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=CONNECT_SECONDS, sock_connect=CONNECT_SECONDS, sock_read=READ_SECONDS
                ),
                headers=self.headers,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
