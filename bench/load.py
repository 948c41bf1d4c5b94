"""Load and soak: realistic mixed traffic on all three channels at once, against the production topology.

    python bench/load.py --minutes 0.5                  # the short run (CI-sized)
    python bench/load.py --minutes 10                   # the soak
    options: --users 24 --web-workers 2 --inbox-workers 4 --inbox-processes 0 --think 0.5 2.0 --warmup 10
             --sample-every 15

It starts `jamsosbot serve --workers N` (bench/webhook_bench.Server) on a fresh PostgreSQL database (dropped
afterwards) and the shared Redis under a key prefix of its own (deleted afterwards), with Telegram and
WhatsApp pointed at local fake API servers (tests/fakes/). Virtual users, a third per channel, each play
conversation_bench.script: questions, a whole BPU registration, a status check, then STOP, thanks or the
menu, with gibberish among the questions; each waits for the bot's answer and a human pause before the
next message. REST users post to /webhooks/rest/webhook; Telegram users post updates with the secret
header; WhatsApp users post forms signed with the twilio SDK's RequestValidator.

Printed: per channel the messages, throughput, latency p50/p99 (REST: the request; Telegram and WhatsApp:
the webhook's acknowledgement, and the reply's arrival at the fake API), errors (non-200 answers,
transport errors, no reply within --reply-timeout) and `trouble`/`busy` answers; the RSS of each worker
process (web workers, and inbox-worker processes with --inbox-processes) over the run (first sample after
warm-up, last, peak); and the registrations check: every registration number shown to a user is in the
database, and no NIK has two live registrations. Then one JSON line. It asserts nothing; on a shared
machine the figures include waiting for a CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.conversation_bench import PG_ADMIN, script  # noqa: E402
from bench.webhook_bench import TELEGRAM_SECRET, Options, Server, _forget_redis_keys, _quantiles  # noqa: E402
from bot.texts import text  # noqa: E402
from storage.crypto import generate_key  # noqa: E402
from storage.schema import upgrade  # noqa: E402
from tests.channels.telegram_factories import Updates  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, FakeTwilioAPI, inbound_form, sign  # noqa: E402

RECEIPT = re.compile(r"Nomor pendaftaran: (BPU-\d{4}-\d{6})")
TROUBLE = (text("trouble"), text("busy"), text("delayed"))
CHANNELS = ("rest", "telegram", "whatsapp")


# -- what the bot sent, as the fake platforms received it -------------------------------------------------
class Replies:
    """Per chat, (arrival time, text) of every message the bot sent; written from the fakes' threads."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._by_chat: dict[str, list[tuple[float, str]]] = defaultdict(list)

    def add(self, chat: str, body: str) -> None:
        with self._mutex:
            self._by_chat[chat].append((time.perf_counter(), body))

    def count(self, chat: str) -> int:
        with self._mutex:
            return len(self._by_chat.get(chat, ()))

    def first_after(self, chat: str, n: int) -> float:
        with self._mutex:
            return self._by_chat[chat][n][0]

    def texts(self) -> list[str]:
        with self._mutex:
            return [body for replies in self._by_chat.values() for _, body in replies]


class TelegramAPI(FakeTelegramAPI):
    def __init__(self, replies: Replies) -> None:
        super().__init__()
        self.replies = replies

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        message = super()._m_sendMessage(params)
        self.replies.add(str(params.get("chat_id")), str(params.get("text", "")))
        return message


class TwilioAPI(FakeTwilioAPI):
    def __init__(self, replies: Replies) -> None:
        super().__init__()
        self.replies = replies

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = super()._create(params)
        self.replies.add(str(params.get("To")), str(params.get("Body", "")))
        return resource


# -- virtual users ----------------------------------------------------------------------------------------
@dataclass
class Channel:
    name: str
    latency_ms: list[float] = field(default_factory=list)  # REST: the request; webhooks: the reply
    ack_ms: list[float] = field(default_factory=list)  # webhooks: the 200
    errors: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    rest_texts: list[str] = field(default_factory=list)


@dataclass
class Run:
    client: httpx.AsyncClient
    public_url: str
    replies: Replies
    think: tuple[float, float]
    reply_timeout: float
    measuring: bool = False
    channels: dict[str, Channel] = field(default_factory=lambda: {n: Channel(n) for n in CHANNELS})


Send = Callable[[str], Awaitable[None]]


async def _await_reply(run: Run, chat: str, before: int, started: float, stats: Channel) -> None:
    deadline = time.perf_counter() + run.reply_timeout
    while run.replies.count(chat) <= before:
        if time.perf_counter() > deadline:
            stats.errors["no_reply"] += 1
            return
        await asyncio.sleep(0.01)
    if run.measuring:
        stats.latency_ms.append((run.replies.first_after(chat, before) - started) * 1000)


async def _post(run: Run, stats: Channel, path: str, **kwargs: Any) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await run.client.post(path, **kwargs)
    except httpx.HTTPError as exc:
        stats.errors[type(exc).__name__] += 1
        return None
    if response.status_code != 200:
        stats.errors[f"http_{response.status_code}"] += 1
        return None
    if run.measuring and path != "/webhooks/rest/webhook":
        stats.ack_ms.append((time.perf_counter() - started) * 1000)
    return response


def rest_user(run: Run, n: int) -> Send:
    stats, sender = run.channels["rest"], f"load-{secrets.token_hex(4)}-{n}"

    async def send(message: str) -> None:
        started = time.perf_counter()
        response = await _post(
            run, stats, "/webhooks/rest/webhook", json={"sender": sender, "message": message}
        )
        if response is None:
            return
        if run.measuring:
            stats.latency_ms.append((time.perf_counter() - started) * 1000)
        stats.rest_texts += [str(m.get("text", "")) for m in response.json()]

    return send


def telegram_user(run: Run, n: int) -> Send:
    stats, chat = run.channels["telegram"], random.randint(1_000_000_000, 1_900_000_000)
    updates = Updates(first_update_id=random.randint(10**8, 9 * 10**8))
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

    async def send(message: str) -> None:
        before, started = run.replies.count(str(chat)), time.perf_counter()
        update = updates.text(chat, message)
        if await _post(run, stats, "/webhooks/telegram/webhook", json=update, headers=headers) is not None:
            await _await_reply(run, str(chat), before, started, stats)

    return send


def whatsapp_user(run: Run, n: int) -> Send:
    stats, phone = run.channels["whatsapp"], f"+62857{random.randint(10_000_000, 99_999_999)}"
    path = "/webhooks/twilio/webhook"

    async def send(message: str) -> None:
        before, started = run.replies.count(f"whatsapp:{phone}"), time.perf_counter()
        form = inbound_form(phone, message, profile_name="Budi Santoso")
        headers = {"X-Twilio-Signature": sign(run.public_url + path, form)}
        if await _post(run, stats, path, data=form, headers=headers) is not None:
            await _await_reply(run, f"whatsapp:{phone}", before, started, stats)

    return send


async def play(run: Run, channel: str, send: Send, index: int, deadline: float) -> None:
    """One person after another on this chat: each conversation_bench.script, with human pauses."""
    conversation = 0
    while time.monotonic() < deadline:
        for message in script(index + conversation * 100_000):
            if time.monotonic() >= deadline:
                return
            await send(message)
            run.channels[channel].messages += run.measuring
            await asyncio.sleep(random.uniform(*run.think))
        conversation += 1


# -- worker processes' memory -----------------------------------------------------------------------------
def worker_pids(server_pid: int) -> list[int]:
    """uvicorn's worker processes under `server_pid` (the process itself when it runs one worker); the
    multiprocessing helpers beside them (resource tracker) are left out."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(server_pid) and b"spawn_main" in command:
            children.append(int(status.parent.name))
    return sorted(children) or [server_pid]


def rss_mb(pid: int, field_name: str = "VmRSS") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def sample_memory(
    pids: list[int], every: float, into: dict[int, list[float]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        for pid in pids:
            value = rss_mb(pid)
            if value is not None:
                into[pid].append(value)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


# -- the run ----------------------------------------------------------------------------------------------
async def drive(server: Server, replies: Replies, args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.users + 8, max_keepalive_connections=args.users + 8)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        run = Run(client, server.url, replies, tuple(args.think), args.reply_timeout)
        makers = {"rest": rest_user, "telegram": telegram_user, "whatsapp": whatsapp_user}
        pids = worker_pids(server.processes[0].pid) + [p.pid for p in server.processes[1:]]
        memory: dict[int, list[float]] = defaultdict(list)
        stop = asyncio.Event()
        started = time.monotonic()
        end = started + args.warmup + args.minutes * 60
        users = [
            asyncio.create_task(play(run, ch, makers[ch](run, n), n, end))
            for n in range(args.users)
            for ch in [CHANNELS[n % 3]]
        ]
        await asyncio.sleep(args.warmup)
        run.measuring = True
        measured_from = time.monotonic()
        sampler = asyncio.create_task(sample_memory(pids, args.sample_every, memory, stop))
        await asyncio.gather(*users)
        seconds = time.monotonic() - measured_from
        stop.set()
        await sampler
    return {"run": run, "seconds": seconds, "memory": memory, "hwm": {p: rss_mb(p, "VmHWM") for p in pids}}


def check_registrations(database_url: str, shown: set[str]) -> dict[str, int]:
    """Registrations shown to users that the database lacks, and NIKs registered twice (live states)."""
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = {r[0] for r in conn.execute(sql("SELECT registration_number FROM registrations"))}
            doubled = conn.execute(
                sql(
                    "SELECT count(*) FROM (SELECT nik_bidx FROM registrations WHERE state IN "
                    "('submitted', 'awaiting_payment', 'active') GROUP BY nik_bidx HAVING count(*) > 1) d"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return {"shown": len(shown), "stored": len(stored), "lost": len(shown - stored), "doubled": int(doubled)}


def report(result: dict[str, Any], registrations: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    run: Run = result["run"]
    seconds: float = result["seconds"]
    texts = run.replies.texts() + [t for ch in run.channels.values() for t in ch.rest_texts]
    figures: dict[str, Any] = {"minutes": args.minutes, "users": args.users, "web_workers": args.web_workers}
    total = 0
    for name, ch in run.channels.items():
        latency, ack = _quantiles(ch.latency_ms), _quantiles(ch.ack_ms)
        total += ch.messages
        figures[name] = {
            "messages": ch.messages,
            "per_s": round(ch.messages / seconds, 1),
            "p50_ms": latency["p50"],
            "p99_ms": latency["p99"],
            "ack_p50_ms": ack["p50"],
            "ack_p99_ms": ack["p99"],
            "errors": dict(ch.errors),
        }
        line = (
            f"{name:9} {ch.messages:6d} msgs {ch.messages / seconds:6.1f}/s  "
            f"p50 {latency['p50']:7.1f} ms  p99 {latency['p99']:8.1f} ms"
        )
        if ch.ack_ms:
            line += f"  (ack p50 {ack['p50']:.1f} ms, p99 {ack['p99']:.1f} ms)"
        print(line + f"  errors {sum(ch.errors.values())} {dict(ch.errors) or ''}")
    troubles = sum(1 for t in texts if t in TROUBLE)
    figures |= {"total_per_s": round(total / seconds, 1), "trouble_answers": troubles}
    print(
        f"all       {total:6d} msgs {total / seconds:6.1f}/s over {seconds:.0f} s; "
        f"trouble/busy answers {troubles}"
    )
    figures["rss_mb"] = {}
    for pid, samples in result["memory"].items():
        if samples:
            figures["rss_mb"][pid] = {
                "first": samples[0],
                "last": samples[-1],
                "peak": result["hwm"].get(pid),
            }
            print(
                f"process {pid}: RSS {samples[0]} MB -> {samples[-1]} MB "
                f"(max sampled {max(samples)} MB, peak {result['hwm'].get(pid)} MB)"
            )
    figures["registrations"] = registrations
    print(
        f"registrations: {registrations['shown']} shown to users, {registrations['stored']} in the database, "
        f"{registrations['lost']} lost, {registrations['doubled']} NIKs registered twice"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=0.5, help="measured duration (after the warm-up)")
    parser.add_argument("--users", type=int, default=24, help="virtual users, a third per channel")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--inbox-workers", type=int, default=4, help="INBOX_WORKERS per process")
    parser.add_argument(
        "--inbox-processes",
        type=int,
        default=0,
        help="`jamsosbot inbox-worker` processes; the web workers then only acknowledge webhooks",
    )
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 2.0), help="pause between messages (s)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of traffic before measuring")
    parser.add_argument("--reply-timeout", type=float, default=30.0)
    parser.add_argument("--sample-every", type=float, default=15.0, help="seconds between RSS samples")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    database = f"jb_load_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    database_url = f"postgresql+psycopg://127.0.0.1:5432/{database}"
    prefix = f"jbload:{secrets.token_hex(4)}:"
    replies = Replies()
    try:
        upgrade(database_url)
        with (
            tempfile.TemporaryDirectory(prefix="jb-load-") as tmp,
            TelegramAPI(replies) as tg,
            TwilioAPI(replies) as wa,
        ):
            env = {
                "JAMSOSBOT_ENV": "test",
                "DATABASE_URL": database_url,
                "REDIS_URL": args.redis,
                "REDIS_PREFIX": prefix,
                "DATA_KEY": generate_key(),
                "INBOX_WORKERS": str(args.inbox_workers),
                "TELEGRAM_BOT_TOKEN": tg.token,
                "TELEGRAM_API_URL": tg.base_url,
                "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_WHATSAPP_FROM": BOT_NUMBER,
                "TWILIO_API_URL": wa.base_url,
                "BENCH_CWD": tmp,  # no stray .env is read
            }
            options = Options(
                0, 0.0, 0, args.users, 0, 0, args.reply_timeout, args.web_workers, args.inbox_processes, None
            )
            with Server(env, options, log=Path(tmp) / "server.log") as server:
                result = asyncio.run(drive(server, replies, args))
            texts = replies.texts() + [t for ch in result["run"].channels.values() for t in ch.rest_texts]
            shown = {m.group(1) for t in texts for m in RECEIPT.finditer(t)}
            figures = report(result, check_registrations(database_url, shown), args)
            print(json.dumps(figures))
    finally:
        _forget_redis_keys(args.redis, [f"{prefix}*"])
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
