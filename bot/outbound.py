"""Channel senders: how replies leave the bot, one sender per channel, behind one Protocol.

The inbox workers (bot/inbox_workers.py) answer every inbound message through `outbound[msg.channel]`, and
campaign broadcasting sends through the same senders, so rendering, retries and error mapping live in one
place per channel. Each channel module exposes a coroutine `async build_sender(settings, runtime) -> sender |
None` (None when the channel is not configured; it must not need the network to succeed) listed in
SENDER_FACTORIES; `build_outbound` builds them all.

Errors a sender raises (everything else is a bug):

    SendError                 the message was not delivered; `permanent` says whether a retry can help
    ├── RecipientUnreachable  permanent: the user blocked the bot, the chat or number does not exist, the
    │                         user sent STOP on the platform. `reason` is a short code ("blocked", ...)
    └── RateLimited           the platform asked to slow down for `retry_after` seconds (raised only when
                              the sender's own retries are off or used up)
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.messages import InboundMessage
from flows.replies import Reply

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

# channel -> "module:function" building its sender; WhatsApp adds its own line here.
SENDER_FACTORIES: dict[str, str] = {
    "telegram": "bot.channels.telegram_sender:build_sender",
    "whatsapp": "bot.channels.whatsapp:build_sender",
}


class SendError(Exception):
    """A reply was not delivered. `permanent` = retrying the same send cannot succeed."""

    permanent = False

    def __init__(self, message: str, *, code: str | None = None, permanent: bool | None = None) -> None:
        super().__init__(message)
        self.code = code  # the platform's error code, for delivery records
        if permanent is not None:
            self.permanent = permanent


class RecipientUnreachable(SendError):
    """The recipient cannot receive messages from the bot (blocked it, left, does not exist)."""

    permanent = True

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(f"recipient unreachable: {reason}", code=code)
        self.reason = reason


class RateLimited(SendError):
    """The platform asked to wait `retry_after` seconds before sending again."""

    def __init__(self, retry_after: float, *, code: str | None = "429") -> None:
        super().__init__(f"rate limited for {retry_after:g} s", code=code)
        self.retry_after = retry_after


@runtime_checkable
class ChannelSender(Protocol):
    """What every channel's sender offers. Methods are coroutines and never block the event loop."""

    channel: str

    async def send(self, chat_id: str, replies: Sequence[Reply], *, retry: bool = True) -> list[str]:
        """Deliver `replies` in order to `chat_id`; return the platform's ids of the messages sent.

        With retry=True, rate limits and network errors are retried with backoff inside the call; with
        retry=False (broadcasts that pace themselves) the first RateLimited or transient SendError is
        raised at once. Raises RecipientUnreachable when the user cannot be reached."""
        ...

    async def typing(self, chat_id: str) -> None:
        """Show that the bot is working on an answer (no-op where the channel has no such thing).
        Best effort: never raises."""
        ...

    async def acknowledge(self, msg: InboundMessage) -> None:
        """Confirm receipt of an inbound message where the platform wants it (Telegram: answer a
        callback query so the button stops spinning). Best effort: never raises."""
        ...

    async def aclose(self) -> None: ...


class Outbound:
    """The senders of this process, by channel name."""

    def __init__(self, senders: Sequence[ChannelSender] = ()) -> None:
        self._senders: dict[str, ChannelSender] = {}
        for sender in senders:
            self.register(sender)

    def register(self, sender: ChannelSender) -> None:
        self._senders[sender.channel] = sender

    def get(self, channel: str) -> ChannelSender | None:
        return self._senders.get(channel)

    def __getitem__(self, channel: str) -> ChannelSender:
        try:
            return self._senders[channel]
        except KeyError:
            raise KeyError(f"no sender for channel {channel!r} (is it configured?)") from None

    def __contains__(self, channel: object) -> bool:
        return channel in self._senders

    def __iter__(self) -> Iterator[str]:
        return iter(self._senders)

    async def aclose(self) -> None:
        for sender in self._senders.values():
            try:
                await sender.aclose()
            except Exception:  # closing one sender must not keep the others open
                log.exception("closing the %s sender failed", sender.channel)


async def build_outbound(settings: Settings, runtime: Any) -> Outbound:
    """A sender for every configured channel. A channel whose module is not installed yet is skipped
    with a warning only when it is configured (so a half-built checkout still starts)."""
    outbound = Outbound()
    for channel, target in SENDER_FACTORIES.items():
        module_name, _, function = target.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError):
            if _configured(settings, channel):
                log.warning("channel %s is configured but %s is missing", channel, target)
            continue
        sender = await factory(settings, runtime)
        if sender is not None:
            outbound.register(sender)
    return outbound


def _configured(settings: Settings, channel: str) -> bool:
    return bool(getattr(settings, f"{channel}_enabled", False))
