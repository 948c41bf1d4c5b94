"""Telegram updates → the one InboundMessage model (bot/messages.py). Shared by webhook and polling mode.

What becomes what (private chats only: the bot collects personal data, never in a group):

    text message                   text as typed; message_id = the update_id (dedupe)
    /start <param>                 text "/start" (the flows greet), start_param = the deep-link parameter,
                                   e.g. t.me/<bot>?start=kkbc_tanahabang → "kkbc_tanahabang"
    /menu, /bantuan (/help), /stop the payloads "/menu", "/help", "/unsubscribe"
    /<intent name>                 that intent's payload ("/subscribe"), as a button would send it
    other /commands                the words without the slash ("/daftar" → "daftar")
    callback query (button press)  text = the callback data (the button's payload); metadata
                                   callback_query_id, so the worker answers it
    the user's own shared contact  text = the phone number, phone = the same (E.164)
    sticker, photo, voice, …       metadata kind = "non_text" (answered with the non_text text, no turn)
    my_chat_member → kicked        metadata kind = "blocked" (the user blocked the bot)
    anything else                  None (edited messages, channel posts, groups, service messages)
"""

from __future__ import annotations

import re
from datetime import datetime

from telegram import Chat, ChatMemberBanned, Message, Update, User

from bot.messages import InboundMessage
from nlu.intents import INTENTS as contract_intents

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
COMMANDS = {"start": "/start", "menu": "/menu", "bantuan": "/help", "help": "/help", "stop": "/unsubscribe"}
# Intent names (shared/contract.md §1): "/subscribe" typed is that intent's payload, as a button would send.
INTENTS = frozenset(contract_intents)
NON_TEXT = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
_START_PARAM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what Telegram allows in a deep link


def inbound_from_update(update: Update) -> InboundMessage | None:
    """The InboundMessage for an update, or None when the bot has nothing to answer."""
    update_id = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type != Chat.PRIVATE:
            return None
        chat_id = chat.id if chat is not None else query.from_user.id  # private chat id = the user's id
        return InboundMessage(
            channel=CHANNEL,
            chat_id=str(chat_id),
            text=query.data or "",
            message_id=update_id,
            display_name=_name(query.from_user),
            metadata={"callback_query_id": query.id},
        )
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type == Chat.PRIVATE and isinstance(member.new_chat_member, ChatMemberBanned):
            return _message(update_id, member.chat.id, "", kind="blocked", received=member.date)
        return None
    message = update.message
    if message is None or message.chat.type != Chat.PRIVATE:
        return None
    return _from_message(update_id, message)


def _from_message(update_id: str, message: Message) -> InboundMessage | None:
    name = _name(message.from_user)
    if message.text:
        text, start_param = command_text(message.text)
        return _message(update_id, message.chat.id, text, name=name, start=start_param, received=message.date)
    contact = message.contact
    if contact is not None and message.from_user is not None and contact.user_id == message.from_user.id:
        phone = "+" + contact.phone_number.lstrip("+")  # Telegram omits the plus on some clients
        return _message(update_id, message.chat.id, phone, name=name, phone=phone, received=message.date)
    if any(getattr(message, field, None) for field in NON_TEXT):
        return _message(update_id, message.chat.id, "", name=name, kind="non_text", received=message.date)
    return None


def command_text(text: str) -> tuple[str, str | None]:
    """(the text for the dispatcher, the /start parameter) of a typed message."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return text, None
    command, rest = match.group(1).lower(), (match.group(2) or "").strip()
    if command == "start":
        return "/start", rest if _START_PARAM.match(rest) else None
    if command in COMMANDS:
        return COMMANDS[command], None
    if command in INTENTS and not rest:
        return f"/{command}", None
    return f"{command.replace('_', ' ')} {rest}".strip(), None


def _message(
    update_id: str,
    chat_id: int,
    text: str,
    *,
    name: str | None = None,
    start: str | None = None,
    phone: str | None = None,
    kind: str | None = None,
    received: datetime | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL,
        chat_id=str(chat_id),
        text=text,
        message_id=update_id,
        phone=phone,
        display_name=name,
        start_param=start,
        metadata={"kind": kind} if kind else {},
        received_at=received,
    )


def _name(user: User | None) -> str | None:
    if user is None:
        return None
    return " ".join(p for p in (user.first_name, user.last_name) if p) or None
