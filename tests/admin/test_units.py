"""The pieces under the console, on their own: console sessions (memory and Redis), the login limiter on
Redis, the funnel and unrecognised-message queries on SQLite and PostgreSQL, redirects and formatting."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis

from bot.admin import sessions as console_sessions
from bot.admin import stats
from bot.admin.ratelimit import LoginLimiter
from bot.admin.templating import angka, persen, waktu
from bot.admin.views import safe_next
from bot.clock import WIB
from storage.crypto import Vault
from storage.db import Database, make_engine
from storage.models import Registration
from storage.repo import events, subscribers
from storage.schema import upgrade
from storage.sessions import MemoryStore, RedisStore
from tests.admin.realdeps import REDIS_URL, postgres_database, redis_prefix

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=WIB)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> Iterator[object]:
    if request.param == "memory":
        yield MemoryStore(prefix="t:")
        return
    with redis_prefix() as prefix:
        redis_store = RedisStore.from_url(REDIS_URL, prefix=prefix)
        yield redis_store
        redis_store.close()


def test_console_sessions_live_idle_and_die(store: MemoryStore) -> None:
    t0 = 1_000_000.0
    sid = console_sessions.start_session(store, 7, now=t0)
    live = console_sessions.load_session(store, sid, now=t0 + 60)
    assert live is not None and live.staff_id == 7 and len(live.csrf) >= 40
    assert console_sessions.load_session(store, "not-" + sid, now=t0 + 60) is None
    assert console_sessions.load_session(store, None) is None
    # used within the idle window keeps it going, up to the maximum age
    later = t0 + console_sessions.TOUCH_EVERY + 1
    assert console_sessions.load_session(store, sid, now=later) is not None
    assert console_sessions.load_session(store, sid, now=t0 + console_sessions.MAX_SECONDS + 1) is None
    assert console_sessions.load_session(store, sid, now=later + 1) is None  # expired for good
    other = console_sessions.start_session(store, 8, now=t0)
    console_sessions.end_session(store, other)
    assert console_sessions.load_session(store, other, now=t0) is None


def test_the_store_never_sees_the_cookie_value() -> None:
    store = MemoryStore(prefix="t:")
    sid = console_sessions.start_session(store, 1)
    assert not list(store.scan(sid)) and not [k for k in store.scan("") if sid in k]
    assert list(store.scan("admin-session:"))


@pytest.mark.redis
def test_failed_logins_are_counted_in_redis_across_limiters() -> None:
    with redis_prefix() as prefix:
        first = LoginLimiter.build(
            REDIS_URL, key_prefix=f"{prefix}login", per_account="3/minute", per_address="5/minute"
        )
        second = LoginLimiter.build(
            REDIS_URL, key_prefix=f"{prefix}login", per_account="3/minute", per_address="5/minute"
        )
        try:
            for _ in range(3):
                assert first.allowed("siti", "10.0.0.1")
                first.failed("siti", "10.0.0.1")
            assert not second.allowed("Siti", "10.0.0.1")  # another web worker sees the same window
            assert second.allowed("siti", "10.0.0.2")  # another address is not held back
            assert second.allowed("budi", "10.0.0.1")
            for _ in range(2):
                second.failed("budi", "10.0.0.1")
            assert not first.allowed("ani", "10.0.0.1")  # the address's window is full now
            keys = redis.Redis.from_url(REDIS_URL).keys(f"{prefix}*")
            assert keys and all(k.decode().startswith(prefix) for k in keys)
        finally:
            first.close()
            second.close()


def _registration(number: str, *, paid: bool) -> Registration:
    return Registration(
        registration_number=number,
        idempotency_key=f"k-{number}",
        state="active" if paid else "awaiting_payment",
        occupations=["petani"],
        programs=["jkk", "jkm"],
        payment_months=1,
        monthly_contribution=16_800,
        total_due=16_800,
        due_date=date(2026, 12, 15),
        consent_ref=f"c-{number}",
        channel="telegram",
        paid_at=datetime(2026, 11, 20, tzinfo=UTC) if paid else None,
    )


def _fill(db: Database) -> None:
    old = NOW - timedelta(days=60)
    for n in range(8):
        at = old if n == 7 else NOW - timedelta(days=1)
        chat = str(900 + n)
        events.append_event(
            db, "registration.started", channel="telegram", chat_id=chat, data={"draft_id": f"d{n}"}, at=at
        )
        if n < 5:
            events.append_event(
                db,
                "consent.given",
                channel="telegram",
                chat_id=chat,
                data={"draft_id": f"d{n}", "purpose": "bpu_registration"},
                at=at,
            )
        if n < 3:
            for _ in range(2):  # a replayed submission counts once
                events.append_event(
                    db,
                    "registration.submitted",
                    channel="telegram",
                    chat_id=chat,
                    data={"draft_id": f"d{n}", "registration_number": f"R{n}"},
                    at=at,
                )
    events.append_event(
        db,
        "consent.given",
        channel="telegram",
        chat_id="999",
        data={"draft_id": "x", "purpose": "broadcast"},
        at=NOW,
    )
    with db.transaction() as session:
        session.add_all(
            [_registration("R0", paid=True), _registration("R1", paid=True), _registration("R2", paid=False)]
        )
        session.add(_registration("OTHER", paid=True))  # paid, but never submitted in the chat
    for text, times in (("kapan bansos cair", 3), ("hp saya 081234567890 ganti", 1), ("wkwk", 2)):
        for _ in range(times):
            events.append_event(
                db, "fallback", channel="telegram", data={"text": text, "reason": "low_confidence"}, at=NOW
            )
    events.append_event(
        db, "fallback", channel="telegram", data={"text": "lama sekali", "reason": "out_of_scope"}, at=old
    )
    subscribers.opt_in(db, channel="telegram", chat_id="1", source="chat")
    subscribers.opt_in(db, channel="whatsapp", chat_id="+6281200000001", source="chat")
    subscribers.opt_in(db, channel="whatsapp", chat_id="+6281200000002", source="chat")
    subscribers.opt_out(db, channel="whatsapp", chat_id="+6281200000002", source="chat")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The same history on a SQLite file and on the real PostgreSQL (the queries use JSON fields)."""
    vault = Vault([secrets.token_bytes(32)])
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("stats") / "stats.db"
        upgrade(f"sqlite:///{path}")
        db = Database(make_engine(f"sqlite:///{path}"), vault)
        _fill(db)
        yield db
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(make_engine(url, pool_size=2), vault)
        _fill(db)
        yield db
        db.dispose()


def test_the_funnel_counts_drafts_once_per_step(filled: Database) -> None:
    steps = stats.funnel(filled, since=NOW - timedelta(days=30))
    assert [(s.key, s.count) for s in steps] == [
        ("started", 7),
        ("consented", 5),
        ("submitted", 3),
        ("paid", 2),
    ]
    assert [s.count for s in stats.funnel(filled)] == [8, 5, 3, 2]
    assert [s.count for s in stats.funnel(filled, since=NOW + timedelta(days=1))] == [0, 0, 0, 0]


def test_unrecognised_messages_most_frequent_first_and_masked(filled: Database) -> None:
    rows = stats.unrecognised(filled, since=NOW - timedelta(days=30))
    assert [(r.text, r.count) for r in rows] == [
        ("kapan bansos cair", 3),
        ("wkwk", 2),
        ("hp saya [PHONE] ganti", 1),
    ]
    assert rows[0].reason == "low_confidence"
    assert "lama sekali" in [r.text for r in stats.unrecognised(filled)]
    assert len(stats.unrecognised(filled, limit=2)) == 2


def test_subscriber_counts(filled: Database) -> None:
    assert stats.subscriber_counts(filled) == {
        "telegram": {"opted_in": 1, "opted_out": 0, "unreachable": 0},
        "whatsapp": {"opted_in": 1, "opted_out": 1, "unreachable": 0},
    }


def test_only_console_paths_follow_a_login() -> None:
    assert safe_next("/admin/campaigns/3?x=1") == "/admin/campaigns/3?x=1"
    for bad in (
        None,
        "",
        "https://evil.example/admin",
        "//evil.example",
        "/admin\\@evil",
        "/admin/login",
        "/admin/api/v1/me",
        "/health",
    ):
        assert safe_next(bad) == "/admin"


def test_numbers_and_times_read_the_indonesian_way() -> None:
    assert angka(1234567) == "1.234.567" and angka(None) == "–"
    assert persen(1, 3) == "33,3%" and persen(1, 0) == "–"
    assert waktu(datetime(2026, 11, 21, 2, 5, tzinfo=UTC)) == "21 Nov 2026 09.05 WIB"
    assert waktu(None) == "–"
