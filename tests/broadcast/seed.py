"""Subscribers in bulk, written the way the bot stores them (the chat id sealed on the conversation, with
its blind index), for tests and the benchmark: thousands in one go, not one transaction each.

Telegram chat ids are 7000000000 + n; WhatsApp numbers are +62812 followed by n on 7 digits, so a test can
tell who is who from what the fake servers received.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from storage.db import Database
from storage.models import Conversation, Subscriber
from storage.repo.conversations import conversation_key

TELEGRAM_BASE = 7_000_000_000


@dataclass(frozen=True)
class Seeded:
    id: int
    channel: str
    chat_id: str

    @property
    def address(self) -> str:
        """How the fake servers record the recipient (chat id, or whatsapp:+62…)."""
        return f"whatsapp:{self.chat_id}" if self.channel == "whatsapp" else self.chat_id


def chat_id(channel: str, n: int) -> str:
    return str(TELEGRAM_BASE + n) if channel == "telegram" else f"+62812{n:07d}"


def seed(
    db: Database,
    channel: str,
    count: int,
    *,
    first: int = 0,
    region: str | None = "Kabupaten Bogor",
    occupation: str | None = "pedagang pasar",
    source: str = "chat",
    opted_in_at: datetime | None = None,
    last_inbound_at: datetime | None = None,
    status: str = "opted_in",
    with_phone: bool = False,
    chunk: int = 2000,
) -> list[Seeded]:
    """`count` subscribers on `channel`, numbered from `first`. WhatsApp ones have written within the last
    hour (their 24-hour window is open) unless `last_inbound_at` says otherwise."""
    now = datetime.now(UTC)
    opted_in_at = opted_in_at or now - timedelta(days=3)
    if last_inbound_at is None and channel == "whatsapp":
        last_inbound_at = now - timedelta(hours=1)
    seeded: list[Seeded] = []
    for start in range(first, first + count, chunk):
        numbers = range(start, min(first + count, start + chunk))
        chats = [chat_id(channel, n) for n in numbers]
        with db.transaction() as session:
            conversations = session.scalars(
                insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
                [_conversation(db, channel, c, now, with_phone) for c in chats],
            ).all()
            rows: list[dict[str, Any]] = [
                {
                    "conversation_id": conv,
                    "channel": channel,
                    "status": status,
                    "opted_in_at": opted_in_at,
                    "opted_in_source": source,
                    "opted_out_at": now if status == "opted_out" else None,
                    "region": region,
                    "occupation": occupation,
                    "unreachable": False,
                    "last_inbound_at": last_inbound_at,
                    "created_at": now,
                    "updated_at": now,
                }
                for conv in conversations
            ]
            ids = session.scalars(
                insert(Subscriber).returning(Subscriber.id, sort_by_parameter_order=True), rows
            ).all()
        seeded += [Seeded(i, channel, c) for i, c in zip(ids, chats, strict=True)]
    return seeded


def _conversation(db: Database, channel: str, chat: str, now: datetime, with_phone: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "channel": channel,
        "chat_id_enc": db.vault.encrypt("chat_id", chat.encode()),
        "conversation_bidx": db.vault.blind_index("conversation", conversation_key(channel, chat)),
        "created_at": now,
        "phone_enc": None,
        "phone_bidx": None,
    }
    if with_phone or channel == "whatsapp":
        row["phone_enc"] = db.vault.encrypt("phone", chat.encode())
        row["phone_bidx"] = db.vault.blind_index("phone", chat)
    return row


def by_address(seeded: list[Seeded]) -> Iterator[tuple[str, Seeded]]:
    for s in seeded:
        yield s.address, s
