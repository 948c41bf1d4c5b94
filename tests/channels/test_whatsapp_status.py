"""Delivery status callbacks: signed like every Twilio webhook, recorded so a status only moves forward,
followed by campaign deliveries, and failures that mean "unreachable" stop further sends. The repository
functions run on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.inbox import MemoryInbox
from storage.crypto import Vault
from storage.db import Database, make_engine
from storage.models import Campaign, Delivery
from storage.repo.subscribers import get_subscriber, opt_in
from storage.repo.whatsapp import get_status, prune_statuses, record_status
from tests.channels.whatsapp_support import (
    client_for,
    fixed_clock,
    forbid_real_twilio,
    migrated_sqlite,
    post_signed,
    webhook_app,
    whatsapp_settings,
)
from tests.fakes.twilio_api import message_sid, status_form
from tests.realdeps import postgres_database

STATUS = "/webhooks/twilio/status"
PHONE = "+6281234567890"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def no_real_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts = forbid_real_twilio(monkeypatch)
    yield
    assert not attempts, f"the real Twilio API was called: {attempts}"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of this module's own on the shared PostgreSQL, dropped afterwards."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = migrated_sqlite(tmp_path)
    else:
        database = Database(make_engine(request.getfixturevalue("pg_url"), pool_size=2), Vault([b"p" * 32]))
    yield database
    database.dispose()


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = webhook_app(whatsapp_settings(None), db, MemoryInbox(), fixed_clock(NOW))
    async with client_for(app) as http:
        yield http


def test_a_status_only_moves_forward(db: Database) -> None:
    sid = message_sid()
    assert record_status(db, sid, "queued", at=NOW)
    assert record_status(db, sid, "delivered", at=NOW + timedelta(seconds=2))
    assert not record_status(db, sid, "sent", at=NOW + timedelta(seconds=3))  # arrived late
    assert not record_status(db, sid, "delivered", at=NOW + timedelta(seconds=4))  # repeated
    assert record_status(db, sid, "read", at=NOW + timedelta(seconds=5))
    status = get_status(db, sid)
    assert status is not None and (status.status, status.updated_at) == ("read", NOW + timedelta(seconds=5))
    failed = message_sid()
    record_status(db, failed, "sent", at=NOW)
    assert record_status(db, failed, "undelivered", error_code="63016", at=NOW)
    got = get_status(db, failed)
    assert got is not None and (got.status, got.error_code) == ("undelivered", "63016")
    with pytest.raises(ValueError):
        record_status(db, sid, "exploded")
    assert get_status(db, message_sid()) is None


def test_old_statuses_are_pruned(db: Database) -> None:
    old, new = message_sid(), message_sid()
    record_status(db, old, "read", at=NOW - timedelta(days=40))
    record_status(db, new, "read", at=NOW)
    assert prune_statuses(db, before=NOW - timedelta(days=30)) == 1
    assert get_status(db, old) is None and get_status(db, new) is not None


def test_a_campaign_delivery_follows_its_message(db: Database) -> None:
    subscriber_id = opt_in(db, channel="whatsapp", chat_id=PHONE, source="test", at=NOW)
    sid = message_sid()
    with db.transaction() as session:
        campaign = Campaign(name="KKBC Maret", body="Kerja Keras Bebas Cemas", status="running")
        session.add(campaign)
        session.flush()
        # the broadcast's planner copies the channel onto each delivery (when the schema has the column)
        planned = {"channel": "whatsapp"} if hasattr(Delivery, "channel") else {}
        session.add(
            Delivery(
                campaign_id=campaign.id,
                subscriber_id=subscriber_id,
                status="sent",
                provider_message_id=sid,
                **planned,
            )
        )
    record_status(db, sid, "delivered", at=NOW)
    record_status(db, sid, "sent", at=NOW)  # stale: the delivery stays delivered
    with db.session() as session:
        assert session.scalars(select(Delivery.status)).one() == "delivered"
    record_status(db, sid, "read", at=NOW)
    with db.session() as session:
        assert session.scalars(select(Delivery.status)).one() == "read"


async def test_signed_callbacks_are_recorded(client: httpx.AsyncClient, db: Database) -> None:
    sid = message_sid()
    for status in ("queued", "sent", "delivered", "read"):
        response = await post_signed(client, STATUS, status_form(sid, status, PHONE))
        assert response.status_code == 204
    recorded = get_status(db, sid)
    assert recorded is not None and recorded.status == "read"


async def test_unsigned_or_forged_callbacks_are_403(client: httpx.AsyncClient, db: Database) -> None:
    sid = message_sid()
    form = status_form(sid, "failed", PHONE, error_code=21610)
    assert (await client.post(STATUS, data=form)).status_code == 403
    forged = await client.post(STATUS, data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403
    other_url = await post_signed(
        client, STATUS, form, signed_url="http://testserver/webhooks/twilio/webhook"
    )
    assert other_url.status_code == 403
    assert get_status(db, sid) is None


async def test_malformed_callbacks_are_400(client: httpx.AsyncClient) -> None:
    form = {**status_form(message_sid(), "sent", PHONE), "MessageStatus": "exploded"}
    assert (await post_signed(client, STATUS, form)).status_code == 400


async def test_a_failure_meaning_unreachable_opts_the_subscriber_out(
    client: httpx.AsyncClient, db: Database
) -> None:
    opt_in(db, channel="whatsapp", chat_id=PHONE, source="test", at=NOW)
    other = "+6281298765432"
    opt_in(db, channel="whatsapp", chat_id=other, source="test", at=NOW)
    stop = status_form(message_sid(), "failed", PHONE, error_code=21610)
    window = status_form(message_sid(), "undelivered", other, error_code=63016)
    assert (await post_signed(client, STATUS, stop)).status_code == 204
    assert (await post_signed(client, STATUS, window)).status_code == 204
    gone = get_subscriber(db, channel="whatsapp", chat_id=PHONE)
    assert gone is not None and gone.unreachable and gone.status == "opted_out"
    kept = get_subscriber(db, channel="whatsapp", chat_id=other)  # 63016 only means "use a template"
    assert kept is not None and not kept.unreachable and kept.status == "opted_in"
