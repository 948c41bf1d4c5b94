"""Workers that drain the inbox: one chat at a time, in order, through the dispatcher and the channel sender.

For each claimed message (bot/inbox.py explains claims and leases):

    acknowledge it on the platform (Telegram: answer the callback query)
    replies = await asyncio.to_thread(handle, msg)     # Dispatcher.handle; typing indicator if slow
    record the replies in the inbox                    # a redelivery sends them, never reruns the turn
    await outbound[msg.channel].send(chat_id, replies)
    done → the chat's next message, or the next chat

Failures: a turn that raises because a dependency is out (database, Redis, the membership backend or the
NLU server unreachable, the conversation still locked by a turn that died: see `is_outage`) is retried with
backoff for as long as an outage may reasonably last (`outage_attempts`, about 6 minutes), and after
`notify_after` failed attempts the user is told, once, that the answer will come when the system is back;
any other exception (a bug) is retried up to `max_attempts`. Either way the dispatcher saved nothing of a
failed turn, and a message whose retries are used up gets the `trouble` text. A send that fails
transiently (the platform answers 5xx or 429 beyond the sender's own retries, or cannot be reached) is
retried the same way as an outage, without rerunning the turn. A recipient who blocked the bot is reported
to `on_unreachable` and the message is dropped. Messages whose metadata `kind` is `non_text` (a sticker,
photo, voice note, location …) get the `non_text` text without a turn; `kind` = `blocked` (the platform says
the user blocked the bot) only reports to `on_unreachable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import redis.exceptions
import sqlalchemy.exc

from bot.inbox import Claim, Inbox
from bot.messages import InboundMessage
from bot.outbound import ChannelSender, Outbound, RecipientUnreachable, SendError
from bot.texts import text
from flows.replies import Reply
from storage.membership.base import BackendUnavailable
from storage.sessions_base import LockTimeout

log = logging.getLogger(__name__)

Handler = Callable[[InboundMessage], list[Reply]]  # synchronous and thread-safe (Dispatcher.handle)
UnreachableHook = Callable[[str, str, str], Awaitable[None]]  # (channel, chat_id, reason)

KIND_NON_TEXT = "non_text"
KIND_BLOCKED = "blocked"

# What a dependency that is down or unreachable raises: retrying later can succeed without anyone fixing code.
OUTAGES: tuple[type[BaseException], ...] = (
    OSError,  # sockets: refused, reset, unreachable (ConnectionError, TimeoutError are OSErrors)
    sqlalchemy.exc.OperationalError,  # the database went away or refused the connection
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    httpx.TransportError,  # an HTTP dependency (the Rasa NLU server) unreachable
    BackendUnavailable,
    LockTimeout,  # the conversation is still locked by a turn that died: its lease runs out
)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) says a dependency is out, not that the code is
    wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTAGES):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class WorkerPolicy:
    workers: int = 4  # concurrent chats per process
    claim_wait: float = 1.0  # seconds an idle worker blocks before looking again (leases come due silently)
    typing_after: float = 1.0  # a turn slower than this shows the typing indicator
    typing_every: float = 4.0  # Telegram shows "typing…" for 5 s; repeat before it fades
    max_attempts: int = 5  # a turn failing for another reason than an outage (a bug)
    # a turn failing because a dependency is out, or a send failing transiently (the platform is out):
    # about 6 minutes with the backoff below, then the message is answered `trouble` / dropped
    outage_attempts: int = 40
    notify_after: int = 2  # failed outage attempts after which the user is told the answer will be late
    retry_base: float = 1.0  # seconds before the first retry; doubled for each further one
    retry_cap: float = 10.0  # also bounds how long after a dependency's return a waiting chat is answered
    shutdown_grace: float = 10.0  # seconds a stopping worker may finish the message in hand

    def backoff(self, attempts: int) -> float:
        return float(min(self.retry_cap, self.retry_base * 2 ** max(0, attempts)))

    def attempts_for(self, exc: BaseException) -> int:
        return self.outage_attempts if is_outage(exc) else self.max_attempts


class InboxWorkers:
    """N asyncio tasks draining one inbox. start() once, stop() on shutdown."""

    def __init__(
        self,
        inbox: Inbox,
        outbound: Outbound,
        handle: Handler,
        *,
        on_unreachable: UnreachableHook | None = None,
        policy: WorkerPolicy | None = None,
    ) -> None:
        self.inbox = inbox
        self.outbound = outbound
        self.handle = handle
        self.on_unreachable = on_unreachable
        self.policy = policy or WorkerPolicy()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[Any]] = set()  # workers holding a message (the others are idle)
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._tasks:
            raise RuntimeError("workers already started")
        self._tasks = [
            asyncio.create_task(self._work(), name=f"inbox-worker-{n}") for n in range(self.policy.workers)
        ]

    async def stop(self) -> None:
        """Let each worker finish the message in hand (up to shutdown_grace), then cancel. A message cut
        off mid-turn stays in the inbox and is answered after its lease (by this or another process)."""
        self._stopping.set()
        if not self._tasks:
            return
        for task in self._tasks:
            if task not in self._busy:
                task.cancel()  # idle, blocked waiting for work: nothing to finish
        _, pending = await asyncio.wait(self._tasks, timeout=self.policy.shutdown_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                claim = await self.inbox.claim(wait=self.policy.claim_wait)
                failures = 0
            except Exception as exc:
                # The inbox store is unreachable: nothing to lose here (messages stay in it); wait and retry.
                failures += 1
                if is_outage(exc):
                    log.warning("inbox claim failed (%s); retrying", _why(exc))
                else:
                    log.exception("inbox claim failed")
                await self._sleep(self.policy.backoff(failures))
                continue
            task = asyncio.current_task()
            if claim is not None and task is not None:
                self._busy.add(task)
            try:
                while claim is not None:
                    if self._stopping.is_set():
                        await self.inbox.release(claim)
                        break
                    claim = await self.process(claim)
            finally:
                if task is not None:
                    self._busy.discard(task)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def process(self, claim: Claim) -> Claim | None:
        """Answer one claimed message; return the chat's next claim (or None). Never raises, except
        CancelledError."""
        renewer = asyncio.create_task(self._keep_lease(claim))
        try:
            return await self._process(claim)
        except Exception:
            # A bug, or the inbox store failed mid-way: the message stays and comes back after its lease.
            log.exception("inbox worker failed on a %s message", claim.message.channel)
            return None
        finally:
            renewer.cancel()

    async def _keep_lease(self, claim: Claim) -> None:
        interval = max(0.05, self.inbox_lease() / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.inbox.renew(claim):
                    log.warning("inbox lease lost on a %s chat", claim.message.channel)
                    return
            except Exception:
                log.warning("inbox lease renewal failed; retrying")

    def inbox_lease(self) -> float:
        return float(getattr(self.inbox, "lease_seconds", 30.0))

    async def _process(self, claim: Claim) -> Claim | None:
        msg = claim.message
        sender = self.outbound.get(msg.channel)
        if sender is None:
            return await self._failed(claim, f"no sender for channel {msg.channel}")
        kind = msg.metadata.get("kind")
        if kind == KIND_BLOCKED:
            await self._unreachable(msg, "blocked")
            return await self.inbox.done(claim)
        replies = claim.replies
        if replies is None:
            await sender.acknowledge(msg)
            if kind == KIND_NON_TEXT:
                replies = [Reply(text("non_text"))]
            else:
                try:
                    replies = await self._turn(msg, sender)
                except Exception as exc:
                    if await self._retry_turn(claim, sender, exc):
                        return None
                    replies = [Reply(text("trouble"))]
            if replies:
                recorded = await self.inbox.record_replies(claim, replies)
                if recorded is None:
                    # Lease lost mid-turn: the turn is saved (and deduped), so whoever holds the chat now
                    # gets no replies for this message from the dispatcher; send ours, then let go.
                    with contextlib.suppress(SendError):
                        await self._send(sender, msg, replies)
                    return None
                claim = recorded
        if replies:
            try:
                await self._send(sender, msg, replies)
            except SendError as exc:
                if exc.permanent:
                    log.warning("%s reply dropped: %s", msg.channel, exc.code or type(exc).__name__)
                elif claim.attempts + 1 < self.policy.outage_attempts:  # the platform is out: it comes back
                    return await self._retry(claim)
                else:
                    log.error("%s reply dropped after %d attempts", msg.channel, claim.attempts + 1)
        return await self.inbox.done(claim)

    async def _turn(self, msg: InboundMessage, sender: ChannelSender) -> list[Reply]:
        turn = asyncio.ensure_future(asyncio.to_thread(self.handle, msg))
        try:
            await asyncio.wait({turn}, timeout=self.policy.typing_after)
            while not turn.done():
                await sender.typing(msg.chat_id)
                await asyncio.wait({turn}, timeout=self.policy.typing_every)
        except asyncio.CancelledError:
            turn.cancel()  # the thread runs on; its result is simply not used
            raise
        return turn.result()

    async def _retry_turn(self, claim: Claim, sender: ChannelSender, exc: Exception) -> bool:
        """Put a failed turn back for later (True), unless its attempts are used up (False)."""
        msg, attempt = claim.message, claim.attempts + 1
        outage = is_outage(exc)
        if outage:
            # Expected while a dependency is down: one line per attempt, not a stack trace.
            log.warning("turn on a %s message failed (attempt %d): %s", msg.channel, attempt, _why(exc))
        else:
            log.exception("turn failed on a %s message (attempt %d)", msg.channel, attempt)
        if attempt >= self.policy.attempts_for(exc):
            return False
        if outage and attempt == self.policy.notify_after:
            # Silence while the system is down reads as "ignored": say the answer is coming.
            with contextlib.suppress(SendError):
                await sender.send(msg.chat_id, [Reply(text("delayed"))], retry=False)
        await self._retry(claim)
        return True

    async def _send(self, sender: ChannelSender, msg: InboundMessage, replies: list[Reply]) -> None:
        try:
            await sender.send(msg.chat_id, replies)
        except RecipientUnreachable as exc:
            await self._unreachable(msg, exc.reason)
            raise

    async def _unreachable(self, msg: InboundMessage, reason: str) -> None:
        log.info("%s recipient unreachable (%s)", msg.channel, reason)
        if self.on_unreachable is None:
            return
        try:
            await self.on_unreachable(msg.channel, msg.chat_id, reason)
        except Exception:
            log.exception("recording an unreachable %s recipient failed", msg.channel)

    async def _retry(self, claim: Claim) -> Claim | None:
        """Put the chat back for a while; the worker moves on to other chats (so: no next claim)."""
        await self.inbox.retry_later(claim, self.policy.backoff(claim.attempts))
        return None

    async def _failed(self, claim: Claim, why: str) -> Claim | None:
        if claim.attempts + 1 < self.policy.max_attempts:
            log.error("%s; retrying later", why)
            return await self._retry(claim)
        log.error("%s; message dropped", why)
        return await self.inbox.done(claim)


def _why(exc: BaseException) -> str:
    """The exception's type and its root cause's type: enough to see what is down, nothing personal."""
    root, seen = exc, {id(exc)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        root = nxt
        seen.add(id(nxt))
    return type(exc).__name__ if root is exc else f"{type(exc).__name__} ({type(root).__name__})"
