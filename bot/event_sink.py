"""Applies the events a turn emitted (flows/events.md) to storage: consents, subscriptions, erasure and the
append-only event log. This is where the pure engine's decisions become durable.

No personal value reaches the event log: a status check's subject (a NIK or KPJ) is replaced by its keyed
blind index, so repeated checks of one number can be counted without storing the number; the text of an
unrecognised message is stored only after redaction (for improving the training data).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.logs import redact
from bot.messages import InboundMessage
from flows.replies import Event
from storage.db import Database
from storage.repo import consents, erase, subscribers
from storage.repo.conversations import ConversationIds
from storage.repo.events import event_row, insert_events

log = logging.getLogger(__name__)

UNRECOGNISED_TEXT_LIMIT = 200


class StorageEventSink:
    def __init__(self, db: Database, *, consent_text: str = "") -> None:
        self.db = db
        self.conversations = ConversationIds(db)
        self.consent_text = consent_text  # the rendered consent the user agreed to (hashed with the consent)

    def apply(self, events: list[Event], msg: InboundMessage, parse: dict[str, Any], now: datetime) -> None:
        erased = False
        for event in events:
            if event.type == "consent.given":
                consents.record_consent(
                    self.db,
                    channel=msg.channel,
                    chat_id=msg.chat_id,
                    purpose=str(event.data.get("purpose", "bpu_registration")),
                    text_version=str(event.data.get("version", "")),
                    text=self.consent_text,
                    phone=msg.phone,
                    at=now,
                    ref=str(event.data["consent_id"]),
                )
            elif event.type == "opt_in":
                subscribers.opt_in(
                    self.db,
                    channel=msg.channel,
                    chat_id=msg.chat_id,
                    source=str(event.data.get("source") or "chat"),
                    phone=msg.phone,
                    at=now,
                )
            elif event.type == "opt_out":
                subscribers.opt_out(
                    self.db,
                    channel=msg.channel,
                    chat_id=msg.chat_id,
                    source=str(event.data.get("source")),
                    at=now,
                )
            elif event.type == "erase":
                erase.erase_person(self.db, channel=msg.channel, chat_id=msg.chat_id, phone=msg.phone, at=now)
                self.conversations.forget(msg.channel, msg.chat_id)
                erased = True
        self._log(events, msg, now, erased=erased)

    def _log(self, events: list[Event], msg: InboundMessage, now: datetime, *, erased: bool) -> None:
        if not events:
            return
        try:
            insert_events(self.db, self._rows(events, msg, now, erased=erased))
        except IntegrityError:
            # The remembered conversation was erased meanwhile (by another process): look it up afresh.
            self.conversations.forget(msg.channel, msg.chat_id)
            insert_events(self.db, self._rows(events, msg, now, erased=erased))

    def _rows(
        self, events: list[Event], msg: InboundMessage, now: datetime, *, erased: bool
    ) -> list[dict[str, Any]]:
        # After an erasure the conversation is gone: this turn's events stay unlinked from it.
        conv = None if erased else self.conversations.id_of(msg.channel, msg.chat_id)
        rows = []
        for event in events:
            data = dict(event.data)
            if event.type == "status.checked" and data.get("subject"):
                data["subject"] = self.db.vault.blind_index("status_subject", str(data["subject"])).hex()[:32]
            if event.type == "fallback":
                data["text"] = redact(msg.text[:UNRECOGNISED_TEXT_LIMIT])
            rows.append(event_row(event.type, channel=msg.channel, conversation_id=conv, data=data, at=now))
        return rows
