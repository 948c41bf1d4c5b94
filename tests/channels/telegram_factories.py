"""Realistic Telegram Bot API update payloads (what Telegram posts to a webhook or returns from getUpdates).

Shapes follow https://core.telegram.org/bots/api#update; ids increase like Telegram's do, so two factories
never produce the same update_id unless a test repeats an update on purpose.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

BOT_ID = 123456


class Updates:
    def __init__(self, first_update_id: int = 700_000_000) -> None:
        self.first_update_id = first_update_id
        self._update_ids = itertools.count(first_update_id)
        self._message_ids = itertools.count(1)

    # -- building blocks -------------------------------------------------------------------------------
    @staticmethod
    def user(chat_id: int, first_name: str = "Siti", last_name: str | None = "Rahma") -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": chat_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "id",
        }
        if last_name:
            user["last_name"] = last_name
        return user

    @staticmethod
    def chat(chat_id: int, kind: str = "private", first_name: str = "Siti") -> dict[str, Any]:
        if kind == "private":
            return {"id": chat_id, "type": "private", "first_name": first_name}
        return {"id": chat_id, "type": kind, "title": "Grup Ojol Tanah Abang"}

    def _message(self, chat_id: int, chat_type: str = "private", **content: Any) -> dict[str, Any]:
        sender_id = chat_id if chat_type == "private" else 55_000_001
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._message_ids),
                "from": self.user(sender_id),
                "chat": self.chat(chat_id, chat_type),
                "date": int(time.time()),
                **content,
            },
        }

    # -- updates ---------------------------------------------------------------------------------------
    def text(self, chat_id: int, text: str, *, chat_type: str = "private") -> dict[str, Any]:
        return self._message(chat_id, chat_type, text=text)

    def command(self, chat_id: int, command: str, param: str | None = None) -> dict[str, Any]:
        """`/start kkbc_tanahabang` as the client sends it after a t.me/<bot>?start=... deep link."""
        text = f"/{command}" + (f" {param}" if param else "")
        entity = {"offset": 0, "length": len(command) + 1, "type": "bot_command"}
        return self._message(chat_id, text=text, entities=[entity])

    def callback(
        self, chat_id: int, data: str, *, under_message_text: str = "Pilih salah satu:"
    ) -> dict[str, Any]:
        """A press on an inline keyboard button under a message the bot sent."""
        update_id = next(self._update_ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"{chat_id}{update_id}",
                "from": self.user(chat_id),
                "message": {
                    "message_id": next(self._message_ids),
                    "from": {
                        "id": BOT_ID,
                        "is_bot": True,
                        "first_name": "Jamsos",
                        "username": "jamsosbot_test_bot",
                    },
                    "chat": self.chat(chat_id),
                    "date": int(time.time()),
                    "text": under_message_text,
                },
                "chat_instance": "-4825736283749238",
                "data": data,
            },
        }

    def sticker(self, chat_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "CAACAgIAAxkBAAIBZ2Zb",
            "file_unique_id": "AgADbQADwDZPEw",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._message(chat_id, sticker=sticker)

    def photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        sizes = [
            {"file_id": "AgACAgUAAxkBAAIB-small", "file_unique_id": "AQADs", "width": 90, "height": 67},
            {"file_id": "AgACAgUAAxkBAAIB-large", "file_unique_id": "AQADl", "width": 1280, "height": 960},
        ]
        return self._message(chat_id, photo=sizes, **({"caption": caption} if caption else {}))

    def voice(self, chat_id: int) -> dict[str, Any]:
        voice = {
            "file_id": "AwACAgUAAxkBAAIB",
            "file_unique_id": "AgADv",
            "duration": 4,
            "mime_type": "audio/ogg",
        }
        return self._message(chat_id, voice=voice)

    def location(self, chat_id: int) -> dict[str, Any]:
        return self._message(chat_id, location={"latitude": -6.186486, "longitude": 106.813198})

    def contact(self, chat_id: int, phone: str = "6281234567890", *, own: bool = True) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "Siti", "user_id": chat_id if own else chat_id + 1}
        return self._message(chat_id, contact=contact)

    def edited(self, chat_id: int, text: str) -> dict[str, Any]:
        update = self._message(chat_id, text=text)
        update["edited_message"] = update.pop("message")
        update["edited_message"]["edit_date"] = int(time.time())
        return update

    def blocked(self, chat_id: int) -> dict[str, Any]:
        """Telegram's notice that the user blocked the bot (my_chat_member, new status kicked)."""
        now = int(time.time())
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "Jamsos", "username": "jamsosbot_test_bot"}
        return {
            "update_id": next(self._update_ids),
            "my_chat_member": {
                "chat": self.chat(chat_id),
                "from": self.user(chat_id),
                "date": now,
                "old_chat_member": {"user": bot, "status": "member"},
                "new_chat_member": {"user": bot, "status": "kicked", "until_date": 0},
            },
        }
