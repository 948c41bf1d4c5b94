"""Inbox workers (bot/inbox_workers.py): order, dedupe, retries, typing, unreachable users, crash recovery.

The turn here is a small thread-safe function standing in for Dispatcher.handle, and the sender records what
it was asked to send; the real dispatcher and the real Telegram sender are exercised end to end in
test_telegram_e2e.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from bot.inbox import Inbox, MemoryInbox
from bot.inbox_redis import RedisInbox
from bot.inbox_workers import InboxWorkers, WorkerPolicy
from bot.messages import InboundMessage
from bot.outbound import Outbound, RecipientUnreachable, SendError
from bot.texts import text
from flows.replies import Reply
from tests.channels.conftest import eventually

FAST = WorkerPolicy(
    workers=4,
    claim_wait=0.2,
    typing_after=0.05,
    typing_every=0.05,
    retry_base=0.01,
    retry_cap=0.05,
    outage_attempts=6,
)


class RecordingSender:
    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (chat_id, text)
        self.typing_to: list[str] = []
        self.acknowledged: list[str] = []
        self.failures: dict[str, list[Exception]] = {}  # raised by the next sends to that chat, in order

    async def send(self, chat_id: str, replies: Sequence[Reply], *, retry: bool = True) -> list[str]:
        if self.failures.get(chat_id):
            raise self.failures[chat_id].pop(0)
        await asyncio.sleep(0.001)  # a network round trip: lets other workers interleave
        self.sent.extend((chat_id, r.text) for r in replies)
        return [str(len(self.sent))]

    async def typing(self, chat_id: str) -> None:
        self.typing_to.append(chat_id)

    async def acknowledge(self, msg: InboundMessage) -> None:
        if "callback_query_id" in msg.metadata:
            self.acknowledged.append(msg.metadata["callback_query_id"])

    async def aclose(self) -> None:
        return None

    def texts(self, chat_id: str) -> list[str]:
        return [t for c, t in self.sent if c == chat_id]


class EchoTurn:
    """Answers "echo <text>"; records calls and checks no chat ever runs two turns at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[InboundMessage] = []
        self.fail_next = 0
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self.overlaps = 0

    def __call__(self, msg: InboundMessage) -> list[Reply]:
        with self._lock:
            self.calls.append(msg)
            if msg.chat_id in self._busy:
                self.overlaps += 1
            self._busy.add(msg.chat_id)
            failing = self.fail_next > 0
            self.fail_next -= 1 if failing else 0
        try:
            self.release.wait(10)
            time.sleep(self.delay)
            if failing:
                raise ConnectionError("database unreachable")
            return [Reply(f"echo {msg.text}")]
        finally:
            with self._lock:
                self._busy.discard(msg.chat_id)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def inbox_factory(request: pytest.FixtureRequest) -> Callable[..., Inbox]:
    if request.param == "memory":
        shared = MemoryInbox(lease_seconds=2.0)
        return lambda lease=2.0: shared
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    return lambda lease=2.0: RedisInbox.from_url(url, lease_seconds=lease, prefix=prefix)


class Harness:
    def __init__(self, inbox: Inbox, turn: EchoTurn, sender: RecordingSender) -> None:
        self.inbox, self.turn, self.sender = inbox, turn, sender
        self.unreachable: list[tuple[str, str, str]] = []

        async def on_unreachable(channel: str, chat_id: str, reason: str) -> None:
            self.unreachable.append((channel, chat_id, reason))

        self.workers = InboxWorkers(
            inbox, Outbound([sender]), turn, on_unreachable=on_unreachable, policy=FAST
        )


@pytest.fixture
async def harness(inbox_factory: Callable[..., Inbox]) -> AsyncIterator[Harness]:
    h = Harness(inbox_factory(), EchoTurn(), RecordingSender())
    h.workers.start()
    yield h
    h.turn.release.set()
    await h.workers.stop()
    await h.inbox.aclose()


def tg(chat: str, body: str, update_id: int | None = None, **kwargs: object) -> InboundMessage:
    mid = None if update_id is None else str(update_id)
    return InboundMessage("telegram", chat, body, message_id=mid, **kwargs)  # type: ignore[arg-type]


async def test_messages_of_one_chat_are_answered_in_order(harness: Harness) -> None:
    harness.turn.delay = 0.01
    for n in range(8):
        await harness.inbox.submit(tg("A", f"a{n}", n))
        await harness.inbox.submit(tg("B", f"b{n}", 100 + n))
    await eventually(lambda: len(harness.sender.sent) == 16, what="16 replies")
    assert harness.sender.texts("A") == [f"echo a{n}" for n in range(8)]
    assert harness.sender.texts("B") == [f"echo b{n}" for n in range(8)]
    assert harness.turn.overlaps == 0


async def test_two_messages_at_once_are_answered_in_order(harness: Harness) -> None:
    harness.turn.delay = 0.05  # the first turn is still running when the second message arrives
    await asyncio.gather(
        harness.inbox.submit(tg("A", "pertama", 1)), harness.inbox.submit(tg("A", "kedua", 2))
    )
    await eventually(lambda: len(harness.sender.sent) == 2, what="2 replies")
    assert harness.sender.texts("A") == ["echo pertama", "echo kedua"]
    assert harness.turn.overlaps == 0


async def test_a_duplicate_update_runs_one_turn(harness: Harness) -> None:
    assert await harness.inbox.submit(tg("A", "halo", 42))
    assert not await harness.inbox.submit(tg("A", "halo", 42))
    await harness.inbox.submit(tg("A", "lagi", 43))
    await eventually(lambda: len(harness.sender.sent) == 2, what="2 replies")
    assert [m.text for m in harness.turn.calls] == ["halo", "lagi"]


async def test_a_slow_turn_shows_the_typing_indicator(harness: Harness) -> None:
    harness.turn.release.clear()
    await harness.inbox.submit(tg("A", "lambat", 1))
    await eventually(lambda: len(harness.sender.typing_to) >= 2, what="typing, repeated")
    harness.turn.release.set()
    await eventually(lambda: harness.sender.texts("A") == ["echo lambat"], what="the reply")
    assert set(harness.sender.typing_to) == {"A"}


async def test_a_fast_turn_shows_no_typing(inbox_factory: Callable[..., Inbox]) -> None:
    h = Harness(inbox_factory(), EchoTurn(), RecordingSender())
    h.workers.policy = WorkerPolicy(workers=1, claim_wait=0.2, typing_after=30)
    h.workers.start()
    try:
        await h.inbox.submit(tg("A", "cepat", 1))
        await eventually(lambda: h.sender.texts("A") == ["echo cepat"], what="the reply")
        assert h.sender.typing_to == []
    finally:
        await h.workers.stop()
        await h.inbox.aclose()


async def test_a_failing_turn_is_retried_then_answered(harness: Harness) -> None:
    harness.turn.fail_next = 2  # an outage: after notify_after (2) failures the user is told, once
    await harness.inbox.submit(tg("A", "halo", 1))
    await eventually(lambda: harness.sender.texts("A") == [text("delayed"), "echo halo"], what="the reply")
    assert len(harness.turn.calls) == 3


async def test_a_turn_that_keeps_failing_gets_the_trouble_text(harness: Harness) -> None:
    harness.turn.fail_next = 100
    await harness.inbox.submit(tg("A", "halo", 1))
    await harness.inbox.submit(tg("A", "berikutnya", 2))
    await eventually(lambda: len(harness.sender.texts("A")) == 4, what="2 notices and 2 replies")
    assert harness.sender.texts("A")[:2] == [text("delayed"), text("trouble")]
    assert len([m for m in harness.turn.calls if m.text == "halo"]) == FAST.outage_attempts


async def test_a_failed_send_is_retried_without_rerunning_the_turn(harness: Harness) -> None:
    harness.sender.failures = {"A": [SendError("telegram unreachable", code="network")]}
    await harness.inbox.submit(tg("A", "halo", 1))
    await eventually(lambda: harness.sender.texts("A") == ["echo halo"], what="the reply")
    assert len(harness.turn.calls) == 1


async def test_a_blocked_user_is_reported_and_the_message_dropped(harness: Harness) -> None:
    harness.sender.failures = {"A": [RecipientUnreachable("blocked", code="403")]}
    await harness.inbox.submit(tg("A", "halo", 1))
    await harness.inbox.submit(tg("B", "halo", 2))
    await eventually(lambda: harness.sender.texts("B") == ["echo halo"], what="B's reply")
    await eventually(lambda: harness.unreachable == [("telegram", "A", "blocked")], what="the report")
    assert await harness.inbox.waiting() == 0


async def test_non_text_and_blocked_notices_need_no_turn(harness: Harness) -> None:
    await harness.inbox.submit(tg("A", "", 1, metadata={"kind": "non_text"}))
    await harness.inbox.submit(tg("B", "", 2, metadata={"kind": "blocked"}))
    await eventually(lambda: harness.sender.texts("A") == [text("non_text")], what="the non_text reply")
    await eventually(lambda: harness.unreachable == [("telegram", "B", "blocked")], what="the report")
    assert harness.turn.calls == [] and harness.sender.texts("B") == []


async def test_a_button_press_is_acknowledged(harness: Harness) -> None:
    await harness.inbox.submit(tg("A", "/register", 1, metadata={"callback_query_id": "cb1"}))
    await eventually(lambda: harness.sender.texts("A") == ["echo /register"], what="the reply")
    assert harness.sender.acknowledged == ["cb1"]


async def test_a_message_for_a_channel_without_sender_is_retried_then_dropped(harness: Harness) -> None:
    await harness.inbox.submit(InboundMessage("whatsapp", "+628123", "halo", message_id="SM1"))
    deadline = time.monotonic() + 15
    while await harness.inbox.waiting() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert await harness.inbox.waiting() == 0
    assert harness.turn.calls == []  # no turn for a message this process cannot answer


# -- a process killed between the ack and the answer ---------------------------------------------------------
CHILD = """
import asyncio, sys, threading
from bot.inbox_redis import RedisInbox
from bot.inbox_workers import InboxWorkers, WorkerPolicy
from bot.outbound import Outbound

class Sender:
    channel = "telegram"
    async def send(self, chat_id, replies, *, retry=True): return []
    async def typing(self, chat_id): pass
    async def acknowledge(self, msg): pass
    async def aclose(self): pass

def hang(msg):
    print("TURN", msg.text, flush=True)
    threading.Event().wait()   # the process dies in the middle of this turn

async def main():
    inbox = RedisInbox.from_url(sys.argv[1], prefix=sys.argv[2], lease_seconds=1.0)
    InboxWorkers(inbox, Outbound([Sender()]), hang, policy=WorkerPolicy(workers=1, claim_wait=0.2)).start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.mark.redis
async def test_a_killed_worker_loses_nothing(redis_url: str, redis_prefix: str) -> None:
    inbox = RedisInbox.from_url(redis_url, lease_seconds=1.0, prefix=redis_prefix)
    await inbox.submit(tg("A", "daftar", 1))  # acknowledged to the platform from here on
    await inbox.submit(tg("A", "nik saya ...", 2))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, redis_url, redis_prefix],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60)
        assert line.strip() == "TURN daftar"  # the child holds chat A, mid-turn
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    sender, turn = RecordingSender(), EchoTurn()
    workers = InboxWorkers(inbox, Outbound([sender]), turn, policy=FAST)
    workers.start()
    try:
        await eventually(lambda: len(sender.sent) == 2, what="both answers after the lease")
    finally:
        await workers.stop()
        await inbox.aclose()
    assert sender.texts("A") == ["echo daftar", "echo nik saya ..."]
