"""Conversations: the one place a chat id is stored (encrypted), found again through its blind index."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.crypto import Vault
from storage.models import Conversation


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
