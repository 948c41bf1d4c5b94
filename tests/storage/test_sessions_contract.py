"""One contract suite for every session store: the in-process MemoryStore and RedisStore on the real Redis.

Each Redis test gets its own key prefix and deletes only its own keys (the Redis is shared; never flush).
TTLs are short fractions of a second; tests sleep past them but never assert on how long anything took.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from storage.sessions import MemoryStore, RedisStore, make_session_store
from storage.sessions_base import LockTimeout, SessionStore

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

StoreFactory = Callable[[], SessionStore]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    prefix = f"jbtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def new_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Makes stores that share one backend, as the processes of one deployment do.

    Memory: the same in-process store (that is what sharing means in-process). Redis: a new client and
    connection pool per call, so cross-"process" behaviour goes through Redis alone.
    """
    if request.param == "memory":
        shared = MemoryStore()
        yield lambda: shared
        return
    prefix = request.getfixturevalue("redis_prefix")
    made: list[RedisStore] = []

    def factory() -> SessionStore:
        made.append(RedisStore.from_url(REDIS_URL, prefix=prefix))
        return made[-1]

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def store(new_store: StoreFactory) -> SessionStore:
    return new_store()


# -- values and TTLs ------------------------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(store: SessionStore) -> None:
    assert store.get("nobody") is None


def test_set_then_get_round_trips_json(store: SessionStore) -> None:
    value = {"flow": "register", "slots": {"nama": "Siti Aminah", "income": 2_000_000}, "done": ["a", None]}
    store.set("tg:1", value, ttl_seconds=60)
    assert store.get("tg:1") == value


def test_set_overwrites_and_delete_removes(store: SessionStore) -> None:
    store.set("tg:1", {"n": 1}, ttl_seconds=60)
    store.set("tg:1", {"n": 2}, ttl_seconds=60)
    assert store.get("tg:1") == {"n": 2}
    store.delete("tg:1")
    assert store.get("tg:1") is None
    store.delete("tg:1")  # deleting what is absent is fine


def test_get_returns_a_copy(store: SessionStore) -> None:
    store.set("tg:1", {"slots": {"a": 1}}, ttl_seconds=60)
    got = store.get("tg:1")
    assert got is not None
    got["slots"]["a"] = 99
    assert store.get("tg:1") == {"slots": {"a": 1}}


def test_values_that_are_not_json_are_refused(store: SessionStore) -> None:
    with pytest.raises(TypeError):
        store.set("tg:1", {"when": object()}, ttl_seconds=60)
    assert store.get("tg:1") is None


def test_a_session_expires_after_its_ttl(store: SessionStore) -> None:
    store.set("short", {"n": 1}, ttl_seconds=0.2)
    store.set("long", {"n": 2}, ttl_seconds=60)
    time.sleep(0.35)
    assert store.get("short") is None
    assert store.get("long") == {"n": 2}


def test_setting_again_renews_the_ttl(store: SessionStore) -> None:
    store.set("tg:1", {"n": 1}, ttl_seconds=0.3)
    store.set("tg:1", {"n": 2}, ttl_seconds=60)
    time.sleep(0.45)
    assert store.get("tg:1") == {"n": 2}


def test_scan_lists_live_sessions_by_prefix(store: SessionStore) -> None:
    store.set("tg:1", {}, ttl_seconds=60)
    store.set("tg:2", {}, ttl_seconds=60)
    store.set("wa:+628123", {}, ttl_seconds=60)
    store.set("tg:gone", {}, ttl_seconds=0.1)
    store.incr("tg:counter", ttl_seconds=60)  # counters are not sessions
    time.sleep(0.2)
    assert sorted(store.scan("tg:")) == ["tg:1", "tg:2"]
    assert sorted(store.scan("")) == ["tg:1", "tg:2", "wa:+628123"]


def test_scan_treats_glob_characters_literally(store: SessionStore) -> None:
    store.set("a*b", {}, ttl_seconds=60)
    store.set("axb", {}, ttl_seconds=60)
    assert list(store.scan("a*")) == ["a*b"]


def test_namespaces_do_not_collide(store: SessionStore) -> None:
    store.set("x", {"n": 1}, ttl_seconds=60)
    assert store.incr("x", ttl_seconds=60) == 1
    assert store.first_time("x") is True
    assert store.get("x") == {"n": 1}
    assert store.count("x") == 1


def test_ping(store: SessionStore) -> None:
    assert store.ping() is True


# -- locks ----------------------------------------------------------------------------------------------


def test_lock_excludes_other_holders_across_threads(new_store: StoreFactory) -> None:
    """Read-modify-write under the lock from many threads (each with its own store on Redis) loses nothing.
    Without exclusion the sleep between read and write makes lost updates all but certain."""
    stores = [new_store() for _ in range(8)]
    stores[0].set("conv", {"turns": 0}, ttl_seconds=60)
    inside = 0
    overlap = False
    counting = threading.Lock()

    def turn(s: SessionStore) -> None:
        nonlocal inside, overlap
        for _ in range(3):
            with s.lock("conv", timeout=10, wait=30):
                with counting:
                    inside += 1
                    overlap = overlap or inside > 1
                state = s.get("conv")
                assert state is not None
                time.sleep(0.005)
                s.set("conv", {"turns": state["turns"] + 1}, ttl_seconds=60)
                with counting:
                    inside -= 1

    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(turn, stores))
    assert not overlap
    assert stores[0].get("conv") == {"turns": 24}


def test_lock_wait_runs_out_with_lock_timeout(new_store: StoreFactory) -> None:
    holder, other = new_store(), new_store()
    with holder.lock("conv"), pytest.raises(LockTimeout), other.lock("conv", wait=0.1):
        pytest.fail("entered a lock someone else holds")


def test_lock_is_free_again_after_release(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    with a.lock("conv"):
        pass
    with b.lock("conv", wait=0):
        pass


def test_locks_of_different_conversations_are_independent(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    with a.lock("conv-1"), b.lock("conv-2", wait=0):
        pass


def test_a_waiter_gets_the_lock_when_the_holder_releases(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    taken = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with a.lock("conv"):
            taken.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    assert taken.wait(5)
    threading.Timer(0.1, release.set).start()
    with b.lock("conv", wait=10):
        assert release.is_set()
    t.join()


def test_the_lock_of_a_dead_holder_expires(new_store: StoreFactory) -> None:
    dead, alive, third = new_store(), new_store(), new_store()
    abandoned = dead.lock("conv", timeout=0.3)
    abandoned.__enter__()  # the holder "dies": it never leaves the block
    with alive.lock("conv", wait=10):
        # The dead holder wakes up and exits late: it must not free the lock `alive` holds now.
        abandoned.__exit__(None, None, None)
        with pytest.raises(LockTimeout), third.lock("conv", wait=0.05):
            pytest.fail("a stale holder released someone else's lock")
    with third.lock("conv", wait=0):
        pass


def test_hold_reads_the_session_and_save_writes_it_and_frees_the_lock(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    a.set("conv", {"step": 1}, ttl_seconds=60)
    with a.hold("conv") as held:
        assert held.value == {"step": 1}
        held.save({"step": 2}, ttl_seconds=60)
        with b.hold("conv", wait=0) as other:  # saving gave the lock up at once
            assert other.value == {"step": 2}
    assert b.get("conv") == {"step": 2}


def test_hold_of_a_new_conversation_reads_none(store: SessionStore) -> None:
    with store.hold("new") as held:
        assert held.value is None


def test_leaving_hold_without_saving_writes_nothing_and_frees_the_lock(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    a.set("conv", {"step": 1}, ttl_seconds=60)
    with pytest.raises(RuntimeError, match="turn failed"), a.hold("conv"):
        raise RuntimeError("turn failed")
    with b.hold("conv", wait=0) as held:
        assert held.value == {"step": 1}


def test_a_held_session_is_saved_once(store: SessionStore) -> None:
    with store.hold("conv") as held:
        held.save({"n": 1}, ttl_seconds=60)
        with pytest.raises(RuntimeError):
            held.save({"n": 2}, ttl_seconds=60)
    assert store.get("conv") == {"n": 1}


def test_hold_and_lock_exclude_each_other(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    with a.lock("conv"), pytest.raises(LockTimeout), b.hold("conv", wait=0.1):
        pytest.fail("held a conversation someone else has locked")
    with a.hold("conv"), pytest.raises(LockTimeout), b.lock("conv", wait=0.1):
        pytest.fail("locked a conversation someone else holds")


def test_hold_excludes_other_holders_across_threads(new_store: StoreFactory) -> None:
    """The read-modify-write of a turn through hold/save from many threads loses no update."""
    stores = [new_store() for _ in range(8)]

    def turn(s: SessionStore) -> None:
        for _ in range(3):
            with s.hold("conv", timeout=10, wait=30) as held:
                turns = (held.value or {}).get("turns", 0)
                time.sleep(0.005)
                held.save({"turns": turns + 1}, ttl_seconds=60)

    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(turn, stores))
    assert stores[0].get("conv") == {"turns": 24}


def test_a_holder_whose_lease_ran_out_does_not_free_the_next_holders_lock(new_store: StoreFactory) -> None:
    slow, alive, third = new_store(), new_store(), new_store()
    stale = slow.hold("conv", timeout=0.3)
    held = stale.__enter__()  # the holder stalls past its lease
    with alive.hold("conv", wait=10):
        held.save({"late": True}, ttl_seconds=60)  # its write lands, but it frees nothing
        stale.__exit__(None, None, None)
        with pytest.raises(LockTimeout), third.hold("conv", wait=0.05):
            pytest.fail("a stale holder released someone else's lock")


# -- dedupe ---------------------------------------------------------------------------------------------


def test_first_time_is_true_once(store: SessionStore) -> None:
    assert store.first_time("tg:update:1") is True
    assert store.first_time("tg:update:1") is False
    assert store.first_time("tg:update:2") is True


def test_first_time_under_concurrent_threads_is_true_exactly_once(new_store: StoreFactory) -> None:
    stores = [new_store() for _ in range(16)]
    barrier = threading.Barrier(len(stores))

    def deliver(s: SessionStore) -> bool:
        barrier.wait()
        return s.first_time("wa:SM0123")

    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(deliver, stores))
    assert results.count(True) == 1


def test_forget_lets_a_retried_message_through_once_more(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    assert a.first_time("tg:update:7") is True
    a.forget("tg:update:7")  # the turn failed; the platform's retry must be processed
    assert b.first_time("tg:update:7") is True
    assert a.first_time("tg:update:7") is False
    a.forget("never-seen")  # forgetting what was never recorded is fine


def test_a_dedupe_record_expires(store: SessionStore) -> None:
    assert store.first_time("m", ttl_seconds=0.2) is True
    time.sleep(0.35)
    assert store.first_time("m", ttl_seconds=0.2) is True


# -- counters -------------------------------------------------------------------------------------------


def test_counters_increment_and_count(store: SessionStore) -> None:
    assert store.count("rate:tg:1") == 0
    assert [store.incr("rate:tg:1", ttl_seconds=60) for _ in range(3)] == [1, 2, 3]
    assert store.count("rate:tg:1") == 3
    assert store.count("rate:tg:2") == 0


def test_a_counter_window_starts_at_the_first_increment(store: SessionStore) -> None:
    store.incr("lockout", ttl_seconds=1.0)
    time.sleep(0.3)
    assert store.incr("lockout", ttl_seconds=1.0) == 2  # a later increment does not move the window
    time.sleep(0.9)
    assert store.count("lockout") == 0
    assert store.incr("lockout", ttl_seconds=1.0) == 1


def test_concurrent_increments_are_all_counted(new_store: StoreFactory) -> None:
    stores = [new_store() for _ in range(8)]

    def bump(s: SessionStore) -> None:
        for _ in range(25):
            s.incr("hits", ttl_seconds=60)

    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(bump, stores))
    assert stores[0].count("hits") == 200


@pytest.mark.parametrize("bad_ttl", [0, -1])
def test_a_ttl_must_be_positive(store: SessionStore, bad_ttl: float) -> None:
    with pytest.raises(ValueError):
        store.set("k", {}, ttl_seconds=bad_ttl)
    with pytest.raises(ValueError):
        store.incr("k", ttl_seconds=bad_ttl)


# -- implementation specifics ---------------------------------------------------------------------------


@pytest.mark.redis
def test_key_prefixes_isolate_deployments(redis_prefix: str) -> None:
    a = RedisStore.from_url(REDIS_URL, prefix=redis_prefix + "a:")
    b = RedisStore.from_url(REDIS_URL, prefix=redis_prefix + "b:")
    try:
        a.set("tg:1", {"who": "a"}, ttl_seconds=60)
        a.incr("n", ttl_seconds=60)
        assert b.get("tg:1") is None
        assert b.count("n") == 0
        assert b.first_time("m") is True
        assert a.first_time("m") is True
        with a.lock("conv"), b.lock("conv", wait=0):
            pass
    finally:
        a.close()
        b.close()


@pytest.mark.redis
def test_redis_keys_carry_the_prefix(redis_prefix: str) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        store.set("tg:1", {"n": 1}, ttl_seconds=60)
        store.incr("tg:1", ttl_seconds=60)
        store.first_time("u1")
        keys = sorted(k.decode() for k in raw.scan_iter(match=redis_prefix + "*"))
        assert keys == [redis_prefix + "n:tg:1", redis_prefix + "s:tg:1", redis_prefix + "seen:u1"]
        assert all(raw.pttl(k) > 0 for k in keys)  # nothing lives forever
    finally:
        store.close()
        raw.close()


def test_redis_ping_is_false_when_redis_is_down() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        assert store.ping() is False
    finally:
        store.close()


def test_make_session_store_follows_the_settings(redis_prefix: str) -> None:
    from bot.settings import load_settings

    assert isinstance(make_session_store(load_settings(redis_url=None)), MemoryStore)
    store = make_session_store(load_settings(redis_url=REDIS_URL), prefix=redis_prefix)
    assert isinstance(store, RedisStore)
    assert store.prefix == redis_prefix
    store.close()
