"""Audiences and planning on the real PostgreSQL (and the embedded SQLite): every filter, the live count,
planning in chunks, planning twice, names for {nama}, and claiming."""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.broadcast import audience as audience_sql
from bot.broadcast import claims
from bot.broadcast.model import Audience
from storage.crypto import Vault
from storage.db import Database, make_engine
from storage.models import Delivery, Event, Registration
from storage.repo.subscribers import opt_out
from storage.schema import upgrade
from tests.broadcast.seed import Seeded, seed

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 2, tzinfo=UTC)


def register(db: Database, subscriber: Seeded, *, state: str, name: str, via_event: bool = False) -> None:
    """A registration linked to the subscriber: by phone (WhatsApp), or by the conversation's
    `registration.submitted` event (Telegram, where the bot has no phone)."""
    number = f"REG-{secrets.token_hex(4)}"
    with db.transaction() as session:
        session.add(
            Registration(
                registration_number=number,
                idempotency_key=secrets.token_hex(8),
                state=state,
                full_name_enc=db.vault.encrypt("full_name", name.encode()),
                phone_bidx=None if via_event else db.vault.blind_index("phone", subscriber.chat_id),
                occupations=["petani"],
                programs=["jkk", "jkm"],
                payment_months=1,
                monthly_contribution=16_800,
                total_due=16_800,
                due_date=date(2026, 3, 31),
                consent_ref="c-1",
                channel=subscriber.channel,
            )
        )
        if via_event:
            conversation = _conversation_of(session, subscriber)
            session.add(
                Event(
                    type="registration.submitted",
                    channel=subscriber.channel,
                    conversation_id=conversation,
                    data={"registration_number": number},
                )
            )


def started(db: Database, subscriber: Seeded) -> None:
    with db.transaction() as session:
        conversation = _conversation_of(session, subscriber)
        session.add(
            Event(
                type="registration.started", channel=subscriber.channel, conversation_id=conversation, data={}
            )
        )


def _conversation_of(session: Session, subscriber: Seeded) -> int:
    from storage.models import Subscriber

    return int(session.scalar(select(Subscriber.conversation_id).where(Subscriber.id == subscriber.id)) or 0)


def planned(db: Database, campaign_id: int, audience: Audience, *, chunk: int = 7) -> tuple[int, int]:
    """Plan in small chunks; (rows inserted, chunks)."""
    after, inserted, chunks = 0, 0, 0
    while True:
        with db.transaction() as session:
            added, upper = audience_sql.plan_chunk(
                session, campaign_id, audience, after=after, limit=chunk, now=NOW
            )
        if upper is None:
            return inserted, chunks
        inserted, after, chunks = inserted + added, upper, chunks + 1


def new_campaign(db: Database, audience: Audience) -> int:
    from storage.models import Campaign

    with db.transaction() as session:
        row = Campaign(name="t", body="Halo {nama}", status="running", audience=audience.to_json())
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def people(db: Database) -> dict[str, list[Seeded]]:
    old = NOW - timedelta(days=60)
    return {
        "tg_bogor": seed(db, "telegram", 5, region="Kabupaten Bogor", occupation="ojol", source="pasar"),
        "tg_gresik": seed(
            db, "telegram", 4, first=100, region="GRESIK", occupation="petani", opted_in_at=old
        ),
        "wa_bogor": seed(db, "whatsapp", 3, region="kabupaten bogor", occupation="petani", source="desa"),
        "wa_out": seed(db, "whatsapp", 2, first=100, region=None, occupation=None, status="opted_out"),
    }


def count(db: Database, audience: Audience) -> dict[str, int]:
    with db.session() as session:
        return audience_sql.count(session, audience)


def test_filters_and_counts(db: Database, people: dict[str, list[Seeded]]) -> None:
    assert count(db, Audience()) == {"telegram": 9, "whatsapp": 3}  # opted-out ones never count
    assert count(db, Audience(channels=("whatsapp",))) == {"whatsapp": 3}
    assert count(db, Audience(regions=("kabupaten BOGOR",))) == {"telegram": 5, "whatsapp": 3}
    assert count(db, Audience(occupations=("petani",))) == {"telegram": 4, "whatsapp": 3}
    assert count(db, Audience(sources=("pasar", "desa"))) == {"telegram": 5, "whatsapp": 3}
    assert count(db, Audience(subscribed_since=NOW - timedelta(days=30))) == {"telegram": 5, "whatsapp": 3}
    assert count(db, Audience(regions=("Gresik",), occupations=("ojol",))) == {}


def test_unreachable_and_opted_out_are_left_out(db: Database, people: dict[str, list[Seeded]]) -> None:
    claims_target = people["tg_bogor"][0]
    claims.Outcome  # noqa: B018 - the module is under test below
    assert opt_out(db, channel="telegram", chat_id=claims_target.chat_id, source="stop")
    from storage.repo.subscribers import mark_unreachable

    mark_unreachable(db, people["wa_bogor"][0].id, reason="blocked")
    assert count(db, Audience()) == {"telegram": 8, "whatsapp": 2}


def test_registration_status_filters(db: Database, people: dict[str, list[Seeded]]) -> None:
    wa, tg = people["wa_bogor"], people["tg_bogor"]
    register(db, wa[0], state="active", name="Siti")  # linked by phone
    register(db, tg[0], state="awaiting_payment", name="Budi", via_event=True)  # by the submitted event
    started(db, tg[1])
    assert count(db, Audience(registration=("active",))) == {"whatsapp": 1}
    assert count(db, Audience(registration=("awaiting_payment",))) == {"telegram": 1}
    assert count(db, Audience(registration=("started",))) == {"telegram": 1}
    assert count(db, Audience(registration=("none",))) == {"telegram": 7, "whatsapp": 2}
    assert count(db, Audience(registration=("none", "started"))) == {"telegram": 8, "whatsapp": 2}


def test_planning_writes_one_row_per_recipient_once(db: Database, people: dict[str, list[Seeded]]) -> None:
    audience = Audience(regions=("Kabupaten Bogor",))
    campaign = new_campaign(db, audience)
    inserted, chunks = planned(db, campaign, audience, chunk=3)
    assert (inserted, chunks) == (8, 3)
    assert planned(db, campaign, audience) == (0, 2)  # again: nothing new
    with db.session() as session:
        rows = session.execute(
            select(Delivery.subscriber_id, Delivery.channel, Delivery.status).where(
                Delivery.campaign_id == campaign
            )
        ).all()
    expected = {(s.id, s.channel) for s in people["tg_bogor"] + people["wa_bogor"]}
    assert {(r.subscriber_id, r.channel) for r in rows} == expected
    assert {r.status for r in rows} == {"pending"}


def test_claims_carry_the_address_window_and_name(db: Database, people: dict[str, list[Seeded]]) -> None:
    wa = people["wa_bogor"]
    register(db, wa[1], state="active", name="SITI AMINAH")
    campaign = new_campaign(db, Audience(channels=("whatsapp",)))
    planned(db, campaign, Audience(channels=("whatsapp",)))
    opt_out(db, channel="whatsapp", chat_id=wa[2].chat_id, source="stop")  # after planning
    with db.transaction() as session:
        batch = claims.claim(
            session,
            db.vault,
            campaign_id=campaign,
            channel="whatsapp",
            token="t",
            limit=10,
            now=NOW,
            lease=60,
            with_names=True,
        )
    by_id = {c.subscriber_id: c for c in batch}
    assert [c.chat_id for c in batch] == [s.chat_id for s in wa]
    assert by_id[wa[1].id].name == "SITI AMINAH" and by_id[wa[0].id].name is None
    assert by_id[wa[2].id].subscribed is False and by_id[wa[0].id].subscribed
    assert all(c.last_inbound_at is not None and not c.reclaimed for c in batch)


def test_concurrent_claims_never_share_a_row(db: Database) -> None:
    seed(db, "telegram", 300)
    campaign = new_campaign(db, Audience())
    planned(db, campaign, Audience(), chunk=1000)
    taken: dict[str, list[int]] = {}

    def worker(token: str) -> None:
        mine: list[int] = []
        while True:
            with db.transaction() as session:
                batch = claims.claim(
                    session,
                    db.vault,
                    campaign_id=campaign,
                    channel="telegram",
                    token=token,
                    limit=7,
                    now=NOW,
                    lease=60,
                )
            if not batch:
                break
            mine += [c.delivery_id for c in batch]
        taken[token] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [d for ids in taken.values() for d in ids]
    assert len(everything) == len(set(everything)) == 300


def test_a_dead_claimers_rows_are_taken_over_and_fenced(db: Database) -> None:
    seed(db, "telegram", 3)
    campaign = new_campaign(db, Audience())
    planned(db, campaign, Audience())
    with db.transaction() as session:
        dead = claims.claim(
            session,
            db.vault,
            campaign_id=campaign,
            channel="telegram",
            token="dead",
            limit=3,
            now=NOW,
            lease=30,
        )
    with db.transaction() as session:  # within the lease: nothing to take
        assert (
            claims.claim(
                session,
                db.vault,
                campaign_id=campaign,
                channel="telegram",
                token="next",
                limit=3,
                now=NOW + timedelta(seconds=10),
                lease=30,
            )
            == []
        )
        assert (
            claims.renew(
                session, token="dead", delivery_ids=[dead[0].delivery_id], now=NOW + timedelta(seconds=20)
            )
            == 1
        )
    later = NOW + timedelta(seconds=45)
    with db.transaction() as session:  # rows 2 and 3 expired; row 1 was renewed at +20 s
        taken = claims.claim(
            session,
            db.vault,
            campaign_id=campaign,
            channel="telegram",
            token="next",
            limit=3,
            now=later,
            lease=30,
        )
    assert [c.delivery_id for c in taken] == [d.delivery_id for d in dead[1:]]
    assert all(c.reclaimed for c in taken)
    with db.transaction() as session:  # the dead claimer's late answer is not recorded over the new owner
        owned = claims.settle(
            session,
            token="dead",
            outcomes=[claims.Outcome(d.delivery_id, "sent", provider_id="late") for d in dead],
            now=later,
        )
    assert owned == {dead[0].delivery_id}
    with db.session() as session:
        statuses = dict(
            session.execute(
                select(Delivery.id, Delivery.status).where(Delivery.campaign_id == campaign)
            ).all()
        )
    assert statuses == {
        dead[0].delivery_id: "sent",
        dead[1].delivery_id: "claimed",
        dead[2].delivery_id: "claimed",
    }


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("broadcast-sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "jamsosbot.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(make_engine(f"sqlite:///{path}"), Vault([secrets.token_bytes(32)]))
    yield db
    db.dispose()


def test_the_embedded_sqlite_plans_claims_and_settles_too(sqlite_db: Database) -> None:
    people = seed(sqlite_db, "telegram", 5) + seed(sqlite_db, "whatsapp", 2)
    campaign = new_campaign(sqlite_db, Audience())
    assert planned(sqlite_db, campaign, Audience(), chunk=3)[0] == 7
    assert planned(sqlite_db, campaign, Audience())[0] == 0
    with sqlite_db.transaction() as session:
        batch = claims.claim(
            session,
            sqlite_db.vault,
            campaign_id=campaign,
            channel="telegram",
            token="t",
            limit=10,
            now=NOW,
            lease=60,
        )
        assert [c.chat_id for c in batch] == [p.chat_id for p in people[:5]]
    with sqlite_db.transaction() as session:
        outcomes = [claims.Outcome(c.delivery_id, "sent", provider_id=str(i)) for i, c in enumerate(batch)]
        assert claims.settle(session, token="t", outcomes=outcomes, now=NOW) == {c.delivery_id for c in batch}
        assert claims.remaining(session, campaign) == (2, None)
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count()).where(Delivery.status == "sent")) == 5
