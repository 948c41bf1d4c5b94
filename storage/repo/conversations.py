"""Conversations: the one place a chat id is stored (encrypted), found again through its blind index."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Connection, literal, select, update
from sqlalchemy.orm import Session

from storage.crypto import Vault
from storage.db import Database, insert_ignoring_duplicates
from storage.models import Conversation


def conversation_key(channel: str, chat_id: str) -> str:
    return f"{channel}:{chat_id}"


def find_conversation(session: Session, vault: Vault, channel: str, chat_id: str) -> Conversation | None:
    indexes = vault.blind_indexes("conversation", conversation_key(channel, chat_id))
    return session.scalars(select(Conversation).where(Conversation.conversation_bidx.in_(indexes))).first()


def _find_or_create(
    conn: Session | Connection, vault: Vault, dialect: str, channel: str, chat_id: str
) -> tuple[int, bool]:
    """(id, whether its phone is recorded) of the conversation, created on first use: found under every key
    of the ring, else inserted unless a concurrent first use just did (ON CONFLICT DO NOTHING: no savepoint,
    and the caller's transaction goes on), else the winner's row is read."""
    key = conversation_key(channel, chat_id)
    find = select(Conversation.id, Conversation.phone_bidx.is_not(None)).where(
        Conversation.conversation_bidx.in_(vault.blind_indexes("conversation", key))
    )
    found = conn.execute(find).first()
    if found is None:
        insert = insert_ignoring_duplicates(dialect, Conversation, ["conversation_bidx"]).values(
            channel=channel,
            chat_id_enc=vault.encrypt("chat_id", chat_id.encode()),
            conversation_bidx=vault.blind_index("conversation", key),
        )
        found = conn.execute(insert.returning(Conversation.id, literal(False))).first()
        if found is None:
            found = conn.execute(find).one()
    return int(found[0]), bool(found[1])


def conversation_id(
    session: Session, vault: Vault, channel: str, chat_id: str, *, phone: str | None = None
) -> int:
    """The id of the (channel, chat id) conversation, created on first use; records the phone once known.
    Runs inside the caller's transaction."""
    dialect = session.get_bind().dialect.name
    conv, phone_known = _find_or_create(session, vault, dialect, channel, chat_id)
    if phone and not phone_known:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conv)
            .values(
                phone_enc=vault.encrypt("phone", phone.encode()), phone_bidx=vault.blind_index("phone", phone)
            )
        )
    return conv


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
        # Each statement its own transaction on PostgreSQL: one to three round trips.
        with self.db.autocommit() as conn:
            return _find_or_create(conn, self.db.vault, self.db.dialect, channel, chat_id)[0]

    def forget(self, channel: str, chat_id: str) -> None:
        with self._mutex:
            self._ids.pop((channel, chat_id), None)
