"""Conversations: the one place a chat id is stored (encrypted), found again through its blind index."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.crypto import Vault
from storage.models import Conversation

if TYPE_CHECKING:
    from storage.db import Database


def conversation_key(channel: str, chat_id: str) -> str:
    return f"{channel}:{chat_id}"


def find_conversation(session: Session, vault: Vault, channel: str, chat_id: str) -> Conversation | None:
    indexes = vault.blind_indexes("conversation", conversation_key(channel, chat_id))
    return session.scalars(select(Conversation).where(Conversation.conversation_bidx.in_(indexes))).first()


def conversation_id(
    session: Session, vault: Vault, channel: str, chat_id: str, *, phone: str | None = None
) -> int:
    """The id of the (channel, chat id) conversation, created on first use; records the phone once known.

    Runs inside the caller's transaction; a concurrent first use of the same chat is resolved by the
    unique blind index (the loser reads the winner's row)."""
    found = find_conversation(session, vault, channel, chat_id)
    if found is None:
        row = Conversation(
            channel=channel,
            chat_id_enc=vault.encrypt("chat_id", chat_id.encode()),
            conversation_bidx=vault.blind_index("conversation", conversation_key(channel, chat_id)),
        )
        try:
            with session.begin_nested():
                session.add(row)
            found = row
        except IntegrityError:
            found = find_conversation(session, vault, channel, chat_id)
            if found is None:  # pragma: no cover - the unique index said it exists
                raise
    if phone and found.phone_enc is None:
        found.phone_enc = vault.encrypt("phone", phone.encode())
        found.phone_bidx = vault.blind_index("phone", phone)
    return found.id


def conversations_by_phone(session: Session, vault: Vault, phone: str) -> list[Conversation]:
    query = select(Conversation).where(Conversation.phone_bidx.in_(vault.blind_indexes("phone", phone)))
    return list(session.scalars(query))


class ConversationIds:
    """Conversation ids by (channel, chat id), remembered in this process (at most `size`, least recently
    used first out) so a turn that logs events does not look its conversation up every time.

    An id stays right until the conversation is erased: this process forgets it when it erases, and a
    write that finds the id gone (erased by another process: a foreign-key error) forgets it and asks again.
    """

    def __init__(self, db: Database, size: int = 10_000) -> None:
        self.db = db
        self.size = size
        self._ids: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._mutex = threading.Lock()

    def id_of(self, channel: str, chat_id: str) -> int:
        key = (channel, chat_id)
        with self._mutex:
            found = self._ids.get(key)
            if found is not None:
                self._ids.move_to_end(key)
                return found
        found = self._find_or_create(channel, chat_id)
        with self._mutex:
            self._ids[key] = found
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)
        return found

    def _find_or_create(self, channel: str, chat_id: str) -> int:
        """`conversation_id` in at most three single statements, each its own transaction (autocommit):
        find it (under every key of the ring), else insert it unless a concurrent first use just did
        (ON CONFLICT DO NOTHING), else read the winner's row."""
        vault, key = self.db.vault, conversation_key(channel, chat_id)
        find = select(Conversation.id).where(
            Conversation.conversation_bidx.in_(vault.blind_indexes("conversation", key))
        )
        dialect = self.db.dialect
        new = (pg_insert if dialect == "postgresql" else sqlite_insert)(Conversation).values(
            channel=channel,
            chat_id_enc=vault.encrypt("chat_id", chat_id.encode()),
            conversation_bidx=vault.blind_index("conversation", key),
        )
        options = {"isolation_level": "AUTOCOMMIT"} if dialect == "postgresql" else {}
        with self.db.engine.connect().execution_options(**options) as conn:
            found = conn.execute(find).scalar()
            if found is None:
                insert = new.on_conflict_do_nothing(index_elements=["conversation_bidx"]).returning(
                    Conversation.id
                )
                found = conn.execute(insert).scalar()
            if found is None:
                found = conn.execute(find).scalar_one()
            conn.commit()
        return int(found)

    def forget(self, channel: str, chat_id: str) -> None:
        with self._mutex:
            self._ids.pop((channel, chat_id), None)
