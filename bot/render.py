"""Central button degradation: one place decides how a reply with buttons looks on a text-only channel.

Telegram renders `Reply.buttons` as an inline keyboard (bot/channels/telegram.py); WhatsApp text and the
console get a numbered list, and the engine (flows/choices.py) maps "2" or the option's words back to the
payload, so a numbered answer and a button press are the same thing.
"""

from __future__ import annotations

from bot.texts import text
from flows.replies import Reply


def numbered(reply: Reply) -> str:
    """The reply's text followed by its buttons as a numbered list ("1. Info manfaat")."""
    if not reply.buttons:
        return reply.text
    options = "\n".join(f"{i}. {b.title}" for i, b in enumerate(reply.buttons, start=1))
    return f"{reply.text}\n\n{options}\n\n{text('numbered_hint')}"
