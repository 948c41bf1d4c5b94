"""How a turn's replies become WhatsApp messages.

WhatsApp text has no inline keyboard, so buttons become a numbered list (bot.render.numbered, the one place
that decides it; the engine maps "2" back to the button's payload). Where the operator has an approved
quick-reply template for a set of buttons (TWILIO_QUICK_REPLIES), that reply is sent as the template
instead, with its text as variable {{1}}; pressing a button comes back as its payload.

Consecutive text replies are packed into one message (up to Twilio's 1600 characters): WhatsApp does not
promise that separate messages sent a moment apart arrive in order, and fewer sends stay further from the
rate limits. A text too long for one message is split at paragraph, line or word boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.render import numbered
from flows.replies import Reply

MAX_BODY = 1600  # Twilio's limit for one message body
SEPARATOR = "\n\n"

QuickReplies = Mapping[tuple[str, ...], str]  # the buttons' payloads, in order → ContentSid


@dataclass(frozen=True)
class Outgoing:
    """One message to create through the Messages API."""

    body: str | None = None
    content_sid: str | None = None
    content_variables: Mapping[str, str] | None = None
    media_url: str | None = None


def render(replies: Sequence[Reply], quick_replies: QuickReplies | None = None) -> list[Outgoing]:
    """The messages for `replies`, in order."""
    quick_replies = quick_replies or {}
    out: list[Outgoing] = []
    pending: list[str] = []  # texts waiting to be packed into one message

    def flush() -> None:
        out.extend(Outgoing(body=chunk) for chunk in pack(pending))
        pending.clear()

    for reply in replies:
        content_sid = quick_replies.get(tuple(b.payload for b in reply.buttons)) if reply.buttons else None
        if content_sid is not None and len(reply.text) <= MAX_BODY:
            flush()
            out.append(Outgoing(content_sid=content_sid, content_variables={"1": reply.text}))
        elif reply.image:
            flush()
            chunks = split(numbered(reply))
            out.append(Outgoing(body=chunks[0], media_url=reply.image))  # the first part is the caption
            out.extend(Outgoing(body=chunk) for chunk in chunks[1:])
        else:
            pending.append(numbered(reply))
    flush()
    return out


def pack(texts: Sequence[str]) -> list[str]:
    """Join texts with blank lines into as few bodies of at most MAX_BODY characters as possible,
    keeping their order; a text is only cut when it is too long on its own."""
    bodies: list[str] = []
    current = ""
    for text in texts:
        if not text.strip():
            continue
        for piece in split(text):
            candidate = f"{current}{SEPARATOR}{piece}" if current else piece
            if len(candidate) <= MAX_BODY:
                current = candidate
            else:
                bodies.append(current)
                current = piece
    if current:
        bodies.append(current)
    return bodies


def split(text: str, limit: int = MAX_BODY) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at the last paragraph break, line break or
    space before the limit (a hard cut only for a word longer than the limit)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max(window.rfind(SEPARATOR), 0) or max(window.rfind("\n"), 0) or max(window.rfind(" "), 0)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def load_quick_replies(path: Path | None) -> dict[tuple[str, ...], str]:
    """Read TWILIO_QUICK_REPLIES: a YAML mapping from the buttons' payloads joined by "|" (in the order
    the flow offers them) to the ContentSid (HX…) of an approved twilio/quick-reply template whose body is
    {{1}} and whose buttons carry the same payloads. Raises ValueError on a malformed file (at start-up)."""
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of 'payload|payload' to a ContentSid")
    table: dict[tuple[str, ...], str] = {}
    for key, sid in data.items():
        payloads = tuple(p.strip() for p in str(key).split("|"))
        if not all(payloads) or not isinstance(sid, str) or not sid.startswith("HX"):
            raise ValueError(f"{path}: {key!r} must map non-empty payloads to a ContentSid starting with HX")
        table[payloads] = sid
    return table
