"""The event sink writes a turn's events in one statement, linked to the conversation it remembers; an
erasure (here or in another process) never leaves it pointing at a conversation that is gone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.event_sink import StorageEventSink
from bot.messages import InboundMessage
from flows.replies import Event as FlowEvent
from storage.db import Database
from storage.models import Conversation, Event
from storage.repo import erase

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def _events(db: Database) -> list[tuple[str, int | None]]:
    with db.session() as s:
        return [(e.type, e.conversation_id) for e in s.scalars(select(Event).order_by(Event.id))]


def _conversations(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Conversation)) or 0)


def test_a_turns_events_are_linked_to_one_conversation_created_once(storage_db: Database) -> None:
    sink = StorageEventSink(storage_db)
    msg = InboundMessage(channel="rest", chat_id="budi", text="halo")
    sink.apply([FlowEvent("flow.started", {"flow": "menu"}), FlowEvent("fallback")], msg, {}, NOW)
    sink.apply([FlowEvent("flow.started", {"flow": "benefits"})], msg, {}, NOW)
    rows = _events(storage_db)
    assert [t for t, _ in rows] == ["flow.started", "fallback", "flow.started"]
    assert len({c for _, c in rows}) == 1 and rows[0][1] is not None
    assert _conversations(storage_db) == 1


def test_a_conversation_erased_by_another_process_is_looked_up_afresh(storage_db: Database) -> None:
    sink = StorageEventSink(storage_db)
    msg = InboundMessage(channel="rest", chat_id="siti", text="halo")
    sink.apply([FlowEvent("flow.started")], msg, {}, NOW)
    erase.erase_person(storage_db, channel="rest", chat_id="siti", at=NOW)  # not through this sink
    sink.apply([FlowEvent("flow.started")], msg, {}, NOW)
    linked = [c for t, c in _events(storage_db) if t == "flow.started"]
    assert linked[0] is None  # the erased conversation's link is cleared
    assert linked[-1] is not None  # linked to the conversation as it exists now
    with storage_db.session() as s:
        assert s.get(Conversation, linked[-1]) is not None
    assert _conversations(storage_db) == 1


def test_after_erasing_through_the_sink_the_next_turn_starts_a_new_conversation(storage_db: Database) -> None:
    sink = StorageEventSink(storage_db)
    msg = InboundMessage(channel="rest", chat_id="andi", text="hapus data saya")
    sink.apply([FlowEvent("flow.started")], msg, {}, NOW)
    sink.apply([FlowEvent("erase")], msg, {}, NOW)
    sink.apply([FlowEvent("flow.started")], msg, {}, NOW)
    rows = _events(storage_db)
    assert rows[-1][1] is not None
    with storage_db.session() as s:
        assert s.get(Conversation, rows[-1][1]) is not None


def test_a_first_use_from_many_processes_at_once_makes_one_conversation(storage_db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from storage.repo.conversations import ConversationIds

    caches = [ConversationIds(storage_db) for _ in range(8)]  # one per "process": nothing shared
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda c: c.id_of("telegram", "777"), caches))
    assert len(set(ids)) == 1
    assert _conversations(storage_db) == 1


def test_a_conversation_indexed_under_a_retired_key_is_found_not_duplicated(storage_db: Database) -> None:
    import secrets

    from storage.crypto import Vault
    from storage.repo.conversations import ConversationIds

    old = ConversationIds(storage_db).id_of("whatsapp", "+6281234567890")
    rotated = Database(storage_db.engine, Vault([secrets.token_bytes(32), *storage_db.vault._masters]))
    assert ConversationIds(rotated).id_of("whatsapp", "+6281234567890") == old
    assert _conversations(storage_db) == 1
