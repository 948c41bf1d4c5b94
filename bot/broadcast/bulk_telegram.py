"""The broadcast worker's Telegram sender: bot/channels/telegram_sender.py's `TelegramSender`, whose
replies that are one Bot API call (every campaign message) are POSTed as JSON on a shared keep-alive
aiohttp session (bot/broadcast/bulk_http.py). The answer is read by python-telegram-bot's own request
code (`BaseRequest.post`), so an error answer raises the library's exception (RetryAfter, Forbidden,
BadRequest …) and the sender maps and retries it exactly as for any other call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import Any

import aiohttp
import telegram
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.broadcast.bulk_http import BulkSession
from bot.channels.telegram_sender import MAX_CAPTION, TelegramSender, inline_keyboard, split_text
from flows.replies import Button, Reply

HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": f"python-telegram-bot v{telegram.__version__} (aiohttp; jamsosbot broadcast)",
}


class BulkTelegramSender(TelegramSender):
    def __init__(self, bot: Bot, **kwargs: Any) -> None:
        super().__init__(bot, **kwargs)
        self._http = BulkSession(HEADERS)

    async def send(self, chat_id: str, replies: Sequence[Reply], *, retry: bool = True) -> list[str]:
        request = one_call(chat_id, replies)
        if request is None:  # several calls (a long text, a caption that does not fit): the library's way
            return await super().send(chat_id, replies, retry=retry)
        method, payload = request
        result = await self._call(partial(self._post, method, payload), retry=retry)
        return [str(result["message_id"])]

    async def _post(self, method: str, payload: dict[str, Any]) -> Any:
        """One Bot API call; its `result`, or the library's exception for the answer."""
        url = f"{self.bot.base_url}/{method}"
        try:
            async with self._http.get().post(url, data=json.dumps(payload).encode()) as response:
                status, body = response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut(f"telegram request timed out: {type(exc).__name__}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"telegram request failed: {type(exc).__name__}") from exc
        return await _Answer(status, body).post(url)

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self._http.close()


def one_call(chat_id: str, replies: Sequence[Reply]) -> tuple[str, dict[str, Any]] | None:
    """The Bot API method and JSON body when `replies` is exactly one call (as TelegramSender renders
    it: plain text, or a photo whose caption is the text, the inline keyboard on it), else None."""
    if len(replies) != 1:
        return None
    reply = replies[0]
    texts = split_text(reply.text) if reply.text.strip() else []
    payload: dict[str, Any] = {"chat_id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id}
    if reply.image:
        if len(texts) > 1 or (texts and len(texts[0]) > MAX_CAPTION):
            return None
        method = "sendPhoto"
        payload["photo"] = reply.image
        if texts:
            payload["caption"] = texts[0]
    elif len(texts) == 1:
        method = "sendMessage"
        payload["text"] = texts[0]
    else:
        return None
    markup = _keyboard(reply.buttons)
    if markup is not None:
        payload["reply_markup"] = markup
    return method, payload


@lru_cache(maxsize=64)  # a campaign has one button for all its recipients
def _keyboard(buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    markup = inline_keyboard(buttons)
    return None if markup is None else markup.to_dict()


class _Answer(BaseRequest):
    """An answer already received, given to python-telegram-bot's `BaseRequest.post`, which checks the
    status, raises the matching TelegramError and returns the call's `result`."""

    def __init__(self, status: int, body: bytes) -> None:
        self._answer = (status, body)

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        return self._answer
