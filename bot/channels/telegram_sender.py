"""Sending to Telegram with python-telegram-bot: replies rendered natively, retries, errors mapped.

Rendering: a reply's buttons become an inline keyboard whose callback data is the button's payload (the
flows keep payloads short; Telegram allows 64 bytes, and a longer payload falls back to the button's title,
which the flows resolve to the same payload). Text is sent plain (no parse mode: a masked NIK is full of
asterisks). A text over Telegram's 4096 characters is split at line breaks; an image goes as a photo with the
text as caption when it fits.

Errors (bot/outbound.py): 429 `RetryAfter` waits the time Telegram asks (when retrying) else RateLimited;
network errors and timeouts are retried with exponential backoff; 403 Forbidden (blocked, deactivated,
kicked) and "chat not found" are RecipientUnreachable; other 400s are permanent SendErrors. A read timeout
may hide a message that did arrive, so a retry after one can duplicate it (Telegram has no idempotency key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.messages import InboundMessage
from bot.outbound import RateLimited, RecipientUnreachable, SendError
from flows.replies import Button, Reply

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

# Opt in to python-telegram-bot's coming behaviour (time periods as timedelta). Without it the library warns
# on every 429 it parses; retry_seconds() reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "true")

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
SHORT_TITLE = 18  # buttons with titles this short go two to a row


def make_bot(settings: Settings, *, pool_size: int = 32) -> Bot:
    """A python-telegram-bot `Bot` on TELEGRAM_API_URL (a local or self-hosted Bot API server works)."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    # httpx logs every request URL at INFO, and a Bot API URL holds the bot token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    # At DEBUG the Bot logs every call's parameters and answer: the texts, which carry names and birth dates.
    for name in ("telegram.Bot", "telegram.ext.ExtBot"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).level))
    base = settings.telegram_api_url.rstrip("/")
    file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
    request = HTTPXRequest(
        connection_pool_size=pool_size,
        connect_timeout=5.0,
        read_timeout=10.0,
        write_timeout=10.0,
        pool_timeout=5.0,
    )
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=base,
        base_file_url=file_base,
        request=request,
        get_updates_request=HTTPXRequest(connection_pool_size=1, connect_timeout=5.0, read_timeout=10.0),
    )


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after in seconds, whichever type this version of the library returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def callback_data(button: Button) -> str:
    """The payload when it fits Telegram's 64 bytes, else the title (which the flows also resolve)."""
    for candidate in (button.payload, button.title):
        if 0 < len(candidate.encode()) <= MAX_CALLBACK_BYTES:
            return candidate
    log.warning("button payload and title both exceed 64 bytes; title cut")
    return button.title.encode()[:MAX_CALLBACK_BYTES].decode(errors="ignore")


def inline_keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    keys = [InlineKeyboardButton(b.title, callback_data=callback_data(b)) for b in buttons]
    per_row = 2 if all(len(b.title) <= SHORT_TITLE for b in buttons) else 1
    return InlineKeyboardMarkup([keys[i : i + per_row] for i in range(0, len(keys), per_row)])


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line or word break where possible."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return [p for p in pieces if p] or ["…"]


def _unreachable_reason(description: str) -> str:
    lowered = description.lower()
    for needle, reason in (("blocked", "blocked"), ("deactivated", "deactivated"), ("kicked", "kicked")):
        if needle in lowered:
            return reason
    return "forbidden"


class TelegramSender:
    """The ChannelSender for Telegram (bot/outbound.py)."""

    channel = "telegram"

    def __init__(
        self,
        bot: Bot,
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after  # a longer flood wait is not slept through inside one send
        self._sleep = sleep
        self._init_lock = asyncio.Lock()
        self._initialized = False

    async def _ready(self) -> None:
        # Lazy: the web app must start even while Telegram is unreachable (WhatsApp and REST still work).
        if self._initialized:
            return
        async with self._init_lock:
            if not self._initialized:
                await self._call(self.bot.initialize, retry=True)
                self._initialized = True

    async def send(self, chat_id: str, replies: Sequence[Reply], *, retry: bool = True) -> list[str]:
        await self._ready()
        sent: list[str] = []
        for reply in replies:
            for call in self._render(chat_id, reply):
                message = await self._call(call, retry=retry)
                if isinstance(message, Message):
                    sent.append(str(message.message_id))
        return sent

    def _render(self, chat_id: str, reply: Reply) -> list[Callable[[], Awaitable[Any]]]:
        """The API calls for one reply, in order; the keyboard rides on the last one."""
        markup = inline_keyboard(reply.buttons)
        texts = split_text(reply.text) if reply.text.strip() else []
        calls: list[Callable[[], Awaitable[Any]]] = []
        if reply.image:
            caption = texts.pop(0) if len(texts) == 1 and len(texts[0]) <= MAX_CAPTION else None
            photo_markup = markup if not texts else None
            calls.append(
                partial(self.bot.send_photo, chat_id, reply.image, caption=caption, reply_markup=photo_markup)
            )
        for n, piece in enumerate(texts):
            piece_markup = markup if n == len(texts) - 1 else None
            calls.append(partial(self.bot.send_message, chat_id, piece, reply_markup=piece_markup))
        return calls

    async def _call(self, call: Callable[[], Awaitable[Any]], *, retry: bool) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if not retry or attempt >= self.max_attempts or wait > self.max_retry_after:
                    raise RateLimited(wait) from exc
                log.warning("telegram flood control: waiting %.0f s", wait)
                await self._sleep(wait)
            except Forbidden as exc:
                raise RecipientUnreachable(_unreachable_reason(exc.message), code="403") from exc
            except BadRequest as exc:  # before NetworkError: BadRequest is a subclass of it
                if "chat not found" in exc.message.lower():
                    raise RecipientUnreachable("chat_not_found", code="400") from exc
                raise SendError(
                    f"telegram rejected the request: {exc.message}", code="400", permanent=True
                ) from exc
            except ChatMigrated as exc:  # only groups migrate; the bot answers private chats only
                raise SendError("chat migrated", code="400", permanent=True) from exc
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                if not retry or attempt >= self.max_attempts:
                    raise SendError(f"telegram unreachable: {type(exc).__name__}", code="network") from exc
                delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
                log.warning("telegram network error (%s); retry in %.1f s", type(exc).__name__, delay)
                await self._sleep(delay)
            except TelegramError as exc:  # InvalidToken, EndPointNotFound, Conflict: configuration problems
                raise SendError(
                    f"telegram error: {type(exc).__name__}", code="config", permanent=True
                ) from exc

    async def typing(self, chat_id: str) -> None:
        with contextlib.suppress(TelegramError, SendError):
            await self._ready()
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def acknowledge(self, msg: InboundMessage) -> None:
        query_id = msg.metadata.get("callback_query_id")
        if not query_id:
            return
        try:
            await self._ready()
            await self.bot.answer_callback_query(query_id)
        except (TelegramError, SendError) as exc:
            # An old query (answered late after a restart) cannot be answered any more; the turn goes on.
            log.info("callback query not answered: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._initialized:
            with contextlib.suppress(TelegramError):
                await self.bot.shutdown()
            self._initialized = False


async def build_sender(settings: Settings, runtime: Any = None) -> TelegramSender | None:
    """The sender factory listed in bot.outbound.SENDER_FACTORIES (None when Telegram is off)."""
    if not settings.telegram_enabled:
        return None
    return TelegramSender(make_bot(settings))
