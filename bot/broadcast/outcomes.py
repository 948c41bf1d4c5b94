"""What a failed send means for its delivery: failed for good (and whether the subscriber is unreachable
or opted out on the platform), or retried later with backoff; and whether the message may have reached
the platform anyway (the request went out but no answer came back).

Codes recorded in `deliveries.error_code` are "<platform code>:<reason>" where both exist ("403:blocked",
"21211:invalid_number", "63016:outside_window"), else the one that exists; the broadcast's own are
"opted_out", "unreachable", "in_doubt", "cancelled".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.broadcast.config import BroadcastConfig
from bot.outbound import RecipientUnreachable, SendError

# Telegram's and Twilio's reasons after which the bot should stop writing to that chat or number.
UNREACHABLE_REASONS = {"blocked", "deactivated", "kicked", "forbidden", "chat_not_found", "invalid_number"}
UNREACHABLE_REASONS |= {"not_on_whatsapp"}
OPTED_OUT_REASONS = {"unsubscribed": "whatsapp_stop"}  # Twilio 21610: the user sent STOP to the number

# Network failures that happen before the request leaves (nothing can have been sent); the names are
# httpx's, requests' and aiohttp's (bot/broadcast/bulk_http.py).
_NEVER_SENT = {
    "ClientConnectorError",
    "ConnectionTimeoutError",
    "ConnectError",
    "ConnectTimeout",
    "PoolTimeout",
    "NewConnectionError",
    "WriteTimeout",
    "LocalProtocolError",
    "ConnectionRefusedError",
}
# Failures after the request was (maybe) received: the platform may have accepted the message.
_MAYBE_SENT = {
    "ReadTimeout",
    "ReadError",
    "RemoteProtocolError",
    "RemoteDisconnected",
    "ProtocolError",
    "ChunkedEncodingError",
    "TimedOut",
    "ConnectionResetError",
    "BrokenPipeError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "ClientPayloadError",
}
_TRANSPORT = {"TransportError", "RequestException", "OSError", "ClientError"}


@dataclass(frozen=True)
class Failure:
    final: bool  # failed for good (else: retried at `retry_at`)
    code: str
    retry_at: datetime | None = None
    unreachable: str | None = None
    opted_out: str | None = None
    maybe_sent: bool = False


def error_code(error: SendError) -> str:
    reason = getattr(error, "reason", None)
    if error.code and reason:
        return f"{error.code}:{reason}"[:40]
    return str(error.code or reason or type(error).__name__)[:40]


def maybe_sent(error: BaseException) -> bool:
    """Whether a transient failure may hide a message the platform accepted: the request was written but
    the answer never came (read timeout, connection dropped). False when the platform answered (a 5xx or
    429 means it did not take the message) or the connection was never made.

    The exception chain is read from its root (the transport's own exception) outwards, so a library's
    wrapper (python-telegram-bot's TimedOut around httpx's PoolTimeout) does not hide what happened."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    kinds = [{cls.__name__ for cls in type(exc).__mro__} for exc in reversed(chain)]
    for names in kinds:
        if names & _NEVER_SENT:
            return False
        if names & _MAYBE_SENT:
            return True
    # a transport failure we cannot place: assume the worst; none at all: the platform answered an error
    return any(names & _TRANSPORT for names in kinds)


def classify(error: SendError, *, attempts: int, config: BroadcastConfig, now: datetime) -> Failure:
    """The fate of a delivery whose send raised `error`, after `attempts` earlier attempts."""
    code = error_code(error)
    if isinstance(error, RecipientUnreachable):
        opted_out = OPTED_OUT_REASONS.get(error.reason)
        unreachable = error.reason if error.reason in UNREACHABLE_REASONS else None
        return Failure(True, code, unreachable=unreachable, opted_out=opted_out)
    if error.permanent:
        return Failure(True, code)
    doubt = maybe_sent(error)
    if attempts + 1 >= config.max_attempts:
        return Failure(True, "in_doubt" if doubt else code, maybe_sent=doubt)
    delay = min(config.backoff_cap_seconds, config.backoff_base_seconds * 2**attempts)
    delay *= random.uniform(0.8, 1.2)
    if doubt:  # come back once the attempt can no longer be in flight, then verify before resending
        delay = max(delay, config.in_doubt_grace_seconds)
    return Failure(False, code, retry_at=now + timedelta(seconds=delay), maybe_sent=doubt)
