"""Sending WhatsApp messages through Twilio's Messages API (the `twilio` SDK), without blocking the loop.

The SDK's client is synchronous (requests), so every call runs in this sender's own small thread pool,
each thread with its own client (a requests session is not shared between threads); the event loop only
awaits. The REST base URL is TWILIO_API_URL, set on the client's `api` domain, so tests and the benchmark
talk to a local server that speaks the Messages API.

`send` renders a turn's replies (bot/channels/whatsapp_render.py) and creates the messages in order.
Transient failures (429 / 20429, 5xx, network errors) are retried with exponential backoff inside the call
when retry=True; errors are mapped as bot/channels/whatsapp_errors.py describes. A message Twilio received
but whose answer was lost (a timeout) may be sent twice by a retry; Twilio offers no idempotency key for
message creation, and a duplicate is better than silence.

Proactive messages (broadcasts, reminders) go through `send_proactive`, which sends free-form text only
inside the user's 24-hour window and the approved template (ContentSid) otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.channels.whatsapp_errors import OutsideSessionWindow, is_transient, map_error
from bot.channels.whatsapp_parse import CHANNEL, address_of
from bot.channels.whatsapp_render import Outgoing, QuickReplies, load_quick_replies, render
from bot.channels.whatsapp_window import within_session_window
from bot.messages import InboundMessage
from bot.outbound import SendError
from flows.replies import Reply

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.db import Database

log = logging.getLogger(__name__)
_http_log = logging.getLogger(__name__ + ".http")
_http_log.setLevel(logging.WARNING)  # the SDK logs every request at INFO: noise, one line per header

STATUS_PATH = "/webhooks/twilio/status"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries per message, the first included
    base: float = 0.5  # seconds before the first retry, doubled for each further one
    cap: float = 8.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2**attempt))


class WhatsAppSender:
    """The WhatsApp channel's sender (bot.outbound.ChannelSender), plus templates and the window."""

    channel = CHANNEL

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        api_url: str = "https://api.twilio.com",
        status_callback: str | None = None,
        quick_replies: QuickReplies | None = None,
        db: Database | None = None,
        clock: Callable[[], datetime] | None = None,
        retry: RetryPolicy | None = None,
        threads: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.sender = address_of(sender)
        self.api_url = api_url.rstrip("/")
        self.status_callback = status_callback
        self.quick_replies = dict(quick_replies or {})
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="twilio")
        self._local = threading.local()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, db: Database | None = None, clock: Callable[[], datetime] | None = None
    ) -> WhatsAppSender:
        if not settings.whatsapp_enabled:
            raise ValueError(
                "WhatsApp is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM)"
            )
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from
        public = settings.public_url
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_whatsapp_from,
            api_url=settings.twilio_api_url,
            status_callback=public.rstrip("/") + STATUS_PATH if public else None,
            quick_replies=load_quick_replies(settings.twilio_quick_replies),
            db=db,
            clock=clock,
        )

    # -- ChannelSender -----------------------------------------------------------------------------------
    async def send(self, chat_id: str, replies: Sequence[Reply], *, retry: bool = True) -> list[str]:
        """Deliver `replies` to the WhatsApp user `chat_id` (E.164); the MessageSids, in order."""
        return [
            await self._create(self._params(chat_id, m), retry=retry)
            for m in render(replies, self.quick_replies)
        ]

    async def typing(self, chat_id: str) -> None:
        return None  # Twilio's Messages API has no typing indicator

    async def acknowledge(self, msg: InboundMessage) -> None:
        return None  # a WhatsApp message needs no receipt (the webhook's 200 is it)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- proactive messages -------------------------------------------------------------------------------
    async def send_template(
        self,
        chat_id: str,
        content_sid: str,
        variables: Mapping[str, str] | None = None,
        *,
        retry: bool = True,
    ) -> str:
        """Send an approved template (ContentSid "HX…"), allowed at any time; its MessageSid."""
        outgoing = Outgoing(content_sid=content_sid, content_variables=dict(variables) if variables else None)
        return await self._create(self._params(chat_id, outgoing), retry=retry)

    async def send_proactive(
        self,
        chat_id: str,
        replies: Sequence[Reply],
        *,
        template_sid: str,
        template_variables: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> list[str]:
        """A message the user did not just ask for: `replies` as free-form text while the 24-hour window
        is open, else the template. A 63016 from Twilio (its clock disagreed) falls back to the template."""
        if await self.within_session_window(chat_id):
            try:
                return await self.send(chat_id, replies, retry=retry)
            except OutsideSessionWindow:
                log.info("whatsapp window closed at Twilio; sending the template")
        return [await self.send_template(chat_id, template_sid, template_variables, retry=retry)]

    async def within_session_window(self, phone: str, now: datetime | None = None) -> bool:
        """Whether free-form text may be sent to `phone` now (bot/channels/whatsapp_window.py)."""
        if self.db is None:
            return False
        return await asyncio.to_thread(within_session_window, self.db, phone, now or self.clock())

    # -- the Messages API ----------------------------------------------------------------------------------
    def _params(self, chat_id: str, message: Outgoing) -> dict[str, Any]:
        params: dict[str, Any] = {"to": address_of(chat_id), "from_": self.sender}
        if message.body is not None:
            params["body"] = message.body
        if message.content_sid is not None:
            params["content_sid"] = message.content_sid
            if message.content_variables:
                params["content_variables"] = json.dumps(dict(message.content_variables), ensure_ascii=False)
        if message.media_url is not None:
            params["media_url"] = [message.media_url]
        if self.status_callback:
            params["status_callback"] = self.status_callback
        return params

    async def _create(self, params: dict[str, Any], *, retry: bool) -> str:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                return await loop.run_in_executor(self._pool, self._create_blocking, params)
            except Exception as exc:
                error = (
                    exc
                    if isinstance(exc, SendError)
                    else map_error(exc, retry_after=self.retry.delay(attempt))
                )
                if not retry or not is_transient(error) or attempt + 1 >= self.retry.attempts:
                    log.warning("whatsapp send failed: %s (code %s)", type(error).__name__, error.code)
                    raise error from exc
            log.info("whatsapp send failed transiently (attempt %d); retrying", attempt + 1)
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1

    def _create_blocking(self, params: dict[str, Any]) -> str:
        message = self._client().api.v2010.account.messages.create(**params)
        if not message.sid:
            raise SendError("Twilio answered without a message sid", code="no_sid", permanent=False)
        return str(message.sid)

    def _client(self) -> Client:
        """This thread's client (created on first use)."""
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            http = TwilioHttpClient(timeout=self.timeout, logger=_http_log)
            # environment={}: TWILIO_EDGE / TWILIO_REGION in the environment would rewrite the host
            client = Client(self.account_sid, self._auth_token, http_client=http, environment={})
            client.api.base_url = self.api_url
            self._local.client = client
        return client


async def build_sender(settings: Settings, runtime: Any) -> WhatsAppSender | None:
    """The factory bot.outbound calls: None when WhatsApp is not configured. `runtime` gives the database
    (for the 24-hour window) and the clock."""
    if not settings.whatsapp_enabled:
        return None
    return WhatsAppSender.from_settings(
        settings, db=getattr(runtime, "db", None), clock=getattr(runtime, "clock", None)
    )
