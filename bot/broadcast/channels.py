"""How a campaign message goes out on each channel, over the channel senders of bot/outbound.py.

A `ChannelPort` sends one personalised message as exactly one platform message and returns its id; errors
are bot.outbound's tree (RateLimited, RecipientUnreachable, SendError; WhatsApp adds OutsideSessionWindow).
Senders are called with retry=False: the broadcast paces itself (bot/broadcast/ratelimit.py) and retries
through the queue, so a send never sleeps inside a claim.

`find` answers "did a send that was in flight when its worker died reach the platform?" where the
platform can tell: Twilio lists the messages sent to a number (matched by body for free-form text, by time
for a template); Telegram cannot (no idempotency key, no way to list a bot's sent messages), so Telegram's
port is not `verifiable` and the configured policy decides (docs/broadcast.md, "Exactly once").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from bot.broadcast.model import CampaignButton, CampaignDraft, personalize
from bot.channels.whatsapp_render import QuickReplies, render
from bot.channels.whatsapp_window import window_open
from bot.outbound import SendError
from flows.replies import Button, Reply

log = logging.getLogger(__name__)

Mode = Literal["text", "template", "none"]  # "none": outside WhatsApp's window and no template
CLOCK_SKEW = timedelta(seconds=60)  # between our clock and the platform's, when matching by time


@dataclass(frozen=True)
class Content:
    """A campaign's message before personalisation."""

    text: str
    image_url: str | None = None
    button: CampaignButton | None = None
    template_sid: str | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, draft: CampaignDraft) -> Content:
        return cls(
            text=draft.text,
            image_url=draft.image_url,
            button=draft.button,
            template_sid=draft.template_sid,
            template_variables=dict(draft.template_variables),
        )

    def personal(self, name: str | None, fallback: str) -> Personal:
        return Personal(
            text=personalize(self.text, name=name, fallback=fallback),
            image_url=self.image_url,
            button=self.button,
            template_sid=self.template_sid,
            template_variables={
                k: personalize(v, name=name, fallback=fallback) for k, v in self.template_variables.items()
            },
        )


@dataclass(frozen=True)
class Personal:
    """One recipient's message."""

    text: str
    image_url: str | None
    button: CampaignButton | None
    template_sid: str | None
    template_variables: Mapping[str, str]


class ChannelPort(Protocol):
    channel: str

    async def warm_up(self) -> None:
        """Open what the first send would otherwise open mid-send (best effort, never raises)."""
        ...

    @property
    def verifiable(self) -> bool:
        """Whether find() can tell if an in-doubt send reached the platform."""
        ...

    def mode(self, last_inbound_at: datetime | None, message: Personal, now: datetime) -> Mode: ...

    def preview(self, message: Personal, mode: Mode) -> dict[str, Any]:
        """What the recipient will see (for the console's preview), as plain data."""
        ...

    async def send(self, chat_id: str, message: Personal, mode: Mode) -> str:
        """Send; the platform's message id."""
        ...

    async def find(self, chat_id: str, message: Personal, mode: Mode, since: datetime) -> str | None:
        """The id of a message like this one sent to `chat_id` at or after `since`, or None."""
        ...


class SenderLike(Protocol):
    async def send(self, chat_id: str, replies: Sequence[Reply], *, retry: bool = True) -> list[str]: ...


def _single(ids: list[str]) -> str:
    """The id of the one platform message a campaign message is (bot/broadcast/model.py keeps it so)."""
    if not ids:
        raise SendError("the platform returned no message id", code="no_id", permanent=True)
    if len(ids) > 1:  # it went out (in parts): record the first id rather than call it a failure
        log.error("a campaign message went out as %d platform messages", len(ids))
    return ids[0]


def telegram_reply(message: Personal) -> Reply:
    """The Telegram message: text (a photo's caption when there is an image) and an inline button."""
    buttons = (Button(message.button.title, message.button.payload),) if message.button else ()
    return Reply(message.text, buttons=buttons, image=message.image_url)


def telegram_preview(message: Personal) -> dict[str, Any]:
    reply = telegram_reply(message)
    return {
        "kind": "photo" if reply.image else "text",
        "text": reply.text,
        "image": reply.image,
        "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
    }


def whatsapp_reply(message: Personal, quick_replies: QuickReplies, hint: str) -> Reply:
    """Free-form WhatsApp text. A button becomes an approved quick-reply template when the operator has
    one for its payload (TWILIO_QUICK_REPLIES), else a line saying what to answer (a numbered "1." would
    mean nothing to the conversation that the user's answer starts)."""
    button = message.button
    if button is not None and (button.payload,) in quick_replies:
        return Reply(message.text, buttons=(Button(button.title, button.payload),), image=message.image_url)
    text = message.text
    if button is not None:
        text = f"{text}\n\n{hint.format(title=button.title)}"
    return Reply(text, image=message.image_url)


def whatsapp_mode(last_inbound_at: datetime | None, message: Personal, now: datetime) -> Mode:
    """Free-form text inside the user's 24-hour window, else the template, else nothing."""
    if window_open(last_inbound_at, now):
        return "text"
    return "template" if message.template_sid else "none"


def whatsapp_preview(message: Personal, mode: Mode, quick_replies: QuickReplies, hint: str) -> dict[str, Any]:
    if mode == "template":
        return {
            "kind": "template",
            "template": message.template_sid,
            "variables": dict(message.template_variables),
        }
    if mode == "none":
        return {"kind": "none", "reason": "outside the 24-hour window and no template: not sent"}
    first = render([whatsapp_reply(message, quick_replies, hint)], quick_replies)[0]
    return {
        "kind": "quick_reply" if first.content_sid else ("media" if first.media_url else "text"),
        "text": first.body if first.body is not None else dict(first.content_variables or {}).get("1"),
        "image": first.media_url,
        "template": first.content_sid,
    }


class TelegramPort:
    channel = "telegram"
    verifiable = False

    def __init__(self, sender: SenderLike) -> None:
        self.sender = sender

    async def warm_up(self) -> None:
        # python-telegram-bot fetches the bot's own user (getMe) before the first send; done here, a send
        # that has passed the ledger and the 429 pause goes straight out instead of waiting on it
        bot = getattr(self.sender, "bot", None)
        if bot is not None:
            try:
                await bot.initialize()
            except Exception as exc:  # Telegram unreachable now: the first send will try again
                log.warning("telegram warm-up failed: %s", type(exc).__name__)

    def mode(self, last_inbound_at: datetime | None, message: Personal, now: datetime) -> Mode:
        return "text"

    def preview(self, message: Personal, mode: Mode) -> dict[str, Any]:
        return telegram_preview(message)

    async def send(self, chat_id: str, message: Personal, mode: Mode) -> str:
        return _single(await self.sender.send(chat_id, [telegram_reply(message)], retry=False))

    async def find(self, chat_id: str, message: Personal, mode: Mode, since: datetime) -> str | None:
        raise NotImplementedError("Telegram cannot tell whether a message was sent")


class WhatsAppSenderLike(SenderLike, Protocol):
    @property
    def quick_replies(self) -> QuickReplies: ...

    async def send_template(
        self,
        chat_id: str,
        content_sid: str,
        variables: Mapping[str, str] | None = None,
        *,
        retry: bool = True,
    ) -> str: ...


class MessageLookup(Protocol):
    async def recent(self, to: str) -> list[tuple[str, str, datetime]]:
        """(sid, body, date created) of the latest messages sent to `to` (E.164), newest first."""
        ...


class WhatsAppPort:
    channel = "whatsapp"

    def __init__(self, sender: WhatsAppSenderLike, *, lookup: MessageLookup | None, button_hint: str) -> None:
        self.sender = sender
        self.lookup = lookup
        self.button_hint = button_hint

    @property
    def verifiable(self) -> bool:
        return self.lookup is not None

    async def warm_up(self) -> None:
        return None  # the Twilio client is made per thread on first use, without a request

    def reply(self, message: Personal) -> Reply:
        return whatsapp_reply(message, self.sender.quick_replies, self.button_hint)

    def mode(self, last_inbound_at: datetime | None, message: Personal, now: datetime) -> Mode:
        return whatsapp_mode(last_inbound_at, message, now)

    def preview(self, message: Personal, mode: Mode) -> dict[str, Any]:
        return whatsapp_preview(message, mode, self.sender.quick_replies, self.button_hint)

    async def send(self, chat_id: str, message: Personal, mode: Mode) -> str:
        if mode == "template":
            assert message.template_sid is not None
            return await self.sender.send_template(
                chat_id, message.template_sid, message.template_variables or None, retry=False
            )
        return _single(await self.sender.send(chat_id, [self.reply(message)], retry=False))

    async def find(self, chat_id: str, message: Personal, mode: Mode, since: datetime) -> str | None:
        if self.lookup is None:
            raise NotImplementedError("no Twilio message lookup configured")
        body = (
            None if mode == "template" else render([self.reply(message)], self.sender.quick_replies)[0].body
        )
        for sid, sent_body, created in await self.lookup.recent(chat_id):
            if created < since - CLOCK_SKEW:
                continue
            # a template's text is Twilio's to render, so any message to this number since the attempt
            # counts; outside the 24-hour window the bot cannot have sent this user anything else
            if body is None or _same_text(sent_body, body):
                return sid
        return None


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())
