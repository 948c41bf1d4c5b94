"""Telegram polling mode (development: no public URL needed) and webhook registration.

The poller long-polls getUpdates and submits every update to the same inbox the webhook uses, so the
turns, ordering and dedupe are the same in both modes. An update's offset is confirmed to Telegram only by
the next getUpdates call, after the update was recorded in the inbox: a poller that dies in between gets the
same updates again, and the inbox drops the repeats by update_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.error import InvalidToken, RetryAfter, TelegramError

from bot.channels.telegram import WEBHOOK_PATH
from bot.channels.telegram_sender import retry_seconds
from bot.channels.telegram_updates import ALLOWED_UPDATES, inbound_from_update
from bot.inbox import Inbox
from bot.settings import Settings

log = logging.getLogger(__name__)

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts as secret_token


class TelegramPoller:
    def __init__(self, bot: Bot, inbox: Inbox, *, timeout: int = 25, backoff_cap: float = 30.0) -> None:
        self.bot = bot
        self.inbox = inbox
        self.timeout = timeout  # seconds each getUpdates may hang waiting for an update
        self.backoff_cap = backoff_cap
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        await self._until_ok(lambda: self.bot.delete_webhook(drop_pending_updates=False), stop)
        failures = 0
        while not stop.is_set():
            try:
                await self.poll_once()
                failures = 0
            except RetryAfter as exc:
                await self._wait(stop, retry_seconds(exc))
            except InvalidToken:
                raise  # nothing to retry: the token is wrong
            except TelegramError as exc:
                # Conflict: another poller, or a webhook set meanwhile. Both pass; the inbox dedupes.
                failures += 1
                delay = min(self.backoff_cap, 0.5 * 2**failures)
                log.warning("getUpdates failed (%s: %s); retry in %.1f s", type(exc).__name__, exc, delay)
                await self._wait(stop, delay)
            except Exception:
                failures += 1  # the inbox store is down: keep the offset, ask again later
                log.exception("telegram update could not be recorded")
                await self._wait(stop, min(self.backoff_cap, 0.5 * 2**failures))

    async def poll_once(self) -> int:
        """One getUpdates round: submit every update to the inbox; return how many came."""
        updates = await self.bot.get_updates(
            offset=self.offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES
        )
        for update in updates:
            msg = inbound_from_update(update)
            if msg is not None:
                await self.inbox.submit(msg)  # raises before the offset moves past this update
            self.offset = update.update_id + 1
        return len(updates)

    async def _until_ok(self, call: Callable[[], Awaitable[object]], stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await call()
                return
            except InvalidToken:
                raise
            except TelegramError as exc:
                failures += 1
                log.warning("telegram call failed (%s); retrying", type(exc).__name__)
                await self._wait(stop, min(self.backoff_cap, 0.5 * 2**failures))

    @staticmethod
    async def _wait(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


def webhook_url(settings: Settings, url: str | None = None) -> str:
    """The public webhook URL: `url` when given, else PUBLIC_URL + the webhook path."""
    if url:
        return url
    if not settings.public_url:
        raise ValueError("PUBLIC_URL is not set (or pass --url)")
    return settings.public_url.rstrip("/") + WEBHOOK_PATH


async def set_webhook(
    bot: Bot, settings: Settings, *, url: str | None = None, drop_pending: bool = False
) -> str:
    """Register the webhook with its secret token; returns the URL registered."""
    secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if not _SECRET.match(secret):
        raise ValueError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    target = webhook_url(settings, url)
    if not target.startswith("https://"):
        raise ValueError("Telegram only delivers webhooks to an https:// URL")
    await bot.set_webhook(
        url=target,
        secret_token=secret,
        allowed_updates=ALLOWED_UPDATES,
        drop_pending_updates=drop_pending,
        max_connections=40,
    )
    return target
