"""A simulated Telegram user for end-to-end tests: types messages and presses inline buttons, the way the
Telegram client would, and reads the bot's answers from the local Bot API server.

`deliver` hands an update to the bot (POST to the webhook, or queue it for getUpdates); `settled` says
when the bot has answered everything delivered so far.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from tests.channels.conftest import eventually_async
from tests.channels.telegram_factories import Updates
from tests.fakes.telegram_api import FakeTelegramAPI

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
Settled = Callable[[int], Awaitable[bool]]  # (the last update_id delivered) -> all answered?


class TelegramUser:
    def __init__(
        self, api: FakeTelegramAPI, updates: Updates, chat_id: int, deliver: Deliver, settled: Settled
    ) -> None:
        self.api, self.updates, self.chat_id = api, updates, chat_id
        self._deliver, self._settled = deliver, settled
        self.update_ids: list[int] = []

    async def send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Deliver one update; return the messages the bot sent in answer to it."""
        before = len(self.api.sent(self.chat_id))
        self.update_ids.append(update["update_id"])
        await self._deliver(update)
        await eventually_async(lambda: self._settled(update["update_id"]), what="the bot's answer")
        return self.api.sent(self.chat_id)[before:]

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.send(self.updates.text(self.chat_id, text))

    async def command(self, command: str, param: str | None = None) -> list[dict[str, Any]]:
        return await self.send(self.updates.command(self.chat_id, command, param))

    def keyboard(self) -> list[dict[str, str]]:
        """The buttons of the bot's last message that had a keyboard."""
        for params in reversed(self.api.sent(self.chat_id)):
            markup = params.get("reply_markup")
            if markup:
                return [b for row in markup["inline_keyboard"] for b in row]
        raise AssertionError("the bot offered no buttons")

    async def press(
        self, payload: str | None = None, *, title: str | None = None, index: int | None = None
    ) -> list[dict[str, Any]]:
        """Press a button of the last keyboard, chosen by its callback data, its title, or its position."""
        buttons = self.keyboard()
        if index is not None:
            button = buttons[index]
        else:
            matches = [b for b in buttons if b["callback_data"] == payload or b["text"] == title]
            assert matches, f"no button {payload or title!r} in {[b['text'] for b in buttons]}"
            button = matches[0]
        update = self.updates.callback(self.chat_id, button["callback_data"])
        answered_before = len(self.api.calls_of("answerCallbackQuery"))
        sent = await self.send(update)
        query_ids = [c.params["callback_query_id"] for c in self.api.calls_of("answerCallbackQuery")]
        assert update["callback_query"]["id"] in query_ids[answered_before:], (
            "the button press was not answered"
        )
        return sent


def texts(sent: list[dict[str, Any]]) -> str:
    """All the text of some sent messages, joined, for assertions."""
    return "\n".join(str(p.get("text", p.get("caption", ""))) for p in sent)


def payloads(sent: list[dict[str, Any]]) -> list[str]:
    return [
        b["callback_data"]
        for p in sent
        for row in (p.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


def dumps(sent: list[dict[str, Any]]) -> str:
    return json.dumps(sent, ensure_ascii=False, indent=1)
