"""The pieces the fault tests rely on, one at a time: what counts as an outage, how the inbox workers treat
an outage, a bug and a platform that keeps failing, and the dispatcher's dedupe kept in the session (a
redelivered message gets its replies again without a second turn; a turn that failed left no mark)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import WIB, FixedClock
from bot.inbox import MemoryInbox
from bot.inbox_workers import InboxWorkers, WorkerPolicy, is_outage
from bot.messages import InboundMessage
from bot.outbound import Outbound, SendError
from bot.runtime import Runtime
from bot.texts import text
from flows.replies import Reply
from storage.membership.base import BackendUnavailable
from storage.sessions_base import LockTimeout
from tests.channels.test_inbox_workers import RecordingSender, tg
from tests.faults.support import fault_settings, until

FAST = WorkerPolicy(workers=2, claim_wait=0.1, typing_after=5, retry_base=0.01, retry_cap=0.02)


def _raised_from(cause: BaseException) -> RuntimeError:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
        redis.exceptions.ConnectionError("Error 111 connecting"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        ConnectionRefusedError(111, "refused"),
        LockTimeout("still locked"),
        BackendUnavailable("membership API: timed out"),
        _raised_from(ConnectionResetError(104, "reset")),
    ],
)
def test_outages(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("a bug"),
        KeyError("step"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        _raised_from(ValueError("bad value")),
    ],
)
def test_not_outages(exc: BaseException) -> None:
    assert not is_outage(exc)


class Turns:
    """A turn that raises `fail` for its first `times` calls, then echoes."""

    def __init__(self, fail: Exception, times: int) -> None:
        self.fail, self.times, self.calls = fail, times, 0

    def __call__(self, msg: InboundMessage) -> list[Reply]:
        self.calls += 1
        if self.calls <= self.times:
            raise self.fail
        return [Reply(f"echo {msg.text}")]


@pytest.fixture
async def inbox() -> AsyncIterator[MemoryInbox]:
    box = MemoryInbox(lease_seconds=2.0)
    yield box
    await box.aclose()


async def _run(inbox: MemoryInbox, sender: RecordingSender, turns: Turns, *messages: InboundMessage) -> None:
    workers = InboxWorkers(inbox, Outbound([sender]), turns, policy=FAST)
    workers.start()
    try:
        for msg in messages:
            await inbox.submit(msg)
        await until(lambda: _drained(inbox), what="the inbox to drain", timeout=30)
    finally:
        await workers.stop()


async def _drained(inbox: MemoryInbox) -> bool:
    return await inbox.waiting() == 0


async def test_a_bug_is_retried_a_few_times_then_answered_trouble_without_a_notice(
    inbox: MemoryInbox,
) -> None:
    sender, turns = RecordingSender(), Turns(RuntimeError("a bug"), times=1000)
    await _run(inbox, sender, turns, tg("A", "halo", 1))
    assert sender.texts("A") == [text("trouble")]
    assert turns.calls == FAST.max_attempts


async def test_an_outage_longer_than_a_bug_allows_is_waited_out(inbox: MemoryInbox) -> None:
    sender = RecordingSender()
    turns = Turns(OperationalError("SELECT 1", {}, Exception("refused")), times=FAST.max_attempts + 3)
    await _run(inbox, sender, turns, tg("A", "halo", 1))
    assert sender.texts("A") == [text("delayed"), "echo halo"]


async def test_a_platform_failing_longer_than_a_bug_allows_gets_the_reply_once(inbox: MemoryInbox) -> None:
    sender, turns = RecordingSender(), Turns(RuntimeError("never"), times=0)
    sender.failures = {"A": [SendError("telegram unreachable", code="network")] * (FAST.max_attempts + 2)}
    await _run(inbox, sender, turns, tg("A", "halo", 1))
    assert sender.texts("A") == ["echo halo"] and turns.calls == 1


# -- the dispatcher ------------------------------------------------------------------------------------------
@pytest.fixture
def runtime(tmp_path: Path, data_key: str) -> Iterator[Runtime]:
    settings = fault_settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}", data_key=data_key)
    built = Runtime.build(settings, clock=FixedClock(datetime(2026, 11, 21, 9, 0, tzinfo=WIB)))
    yield built
    built.close()


class CountingParser:
    def __init__(self, inner: Any) -> None:
        self.inner, self.texts = inner, list[str]()

    def parse(self, text: str) -> dict[str, Any]:
        self.texts.append(text)
        return dict(self.inner.parse(text))


def test_a_redelivered_message_gets_its_replies_again_without_a_second_turn(runtime: Runtime) -> None:
    parser = runtime.dispatcher.nlu = CountingParser(runtime.nlu)
    first = InboundMessage("telegram", "555", "halo", message_id="9001")
    replies = runtime.dispatcher.handle(first)
    assert replies and runtime.dispatcher.handle(first) == replies
    runtime.dispatcher.handle(InboundMessage("telegram", "555", "apa itu jkk", message_id="9002"))
    assert runtime.dispatcher.handle(first) == []  # an older message: nothing to say again
    assert parser.texts == ["halo", "apa itu jkk"]


def test_a_turn_that_failed_is_not_marked_answered(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = runtime.dispatcher.nlu = CountingParser(runtime.nlu)
    sink = runtime.dispatcher.sink
    apply = sink.apply
    failures = [OperationalError("INSERT", {}, Exception("the database went away"))]

    def failing_once(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        apply(*args, **kwargs)

    monkeypatch.setattr(sink, "apply", failing_once)
    msg = InboundMessage("telegram", "556", "sy mau daftar bpjs tk", message_id="9100")
    with pytest.raises(OperationalError):
        runtime.dispatcher.handle(msg, busy_reply=False)
    replies = runtime.dispatcher.handle(msg)  # the inbox's retry: the turn runs, now to the end
    assert "setuju" in "\n".join(r.text for r in replies).lower()
    assert parser.texts == ["sy mau daftar bpjs tk"] * 2


def test_a_conversation_left_locked_is_busy_for_a_person_and_an_outage_for_the_inbox(
    runtime: Runtime,
) -> None:
    runtime.dispatcher.lock_wait_seconds = 0.05
    msg = InboundMessage("rest", "557", "halo")
    key = "conv:" + runtime.db.vault.blind_index("session", msg.conversation_key).hex()  # the dispatcher's
    with runtime.store.lock(key):  # a turn that died holding the lock
        assert runtime.dispatcher.handle(msg) == [Reply(text("busy"))]
        with pytest.raises(LockTimeout):
            runtime.dispatcher.handle(msg, busy_reply=False)
