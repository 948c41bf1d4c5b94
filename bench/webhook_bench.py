"""Benchmark of the channel webhooks: acknowledgement latency (p50/p99) and turns per second, per channel.

    python bench/webhook_bench.py [--channel whatsapp|telegram|all] [--paced 300] [--rate 20]
                                  [--messages 400] [--users 80] [--concurrency 16] [--duplicates 50]
                                  [--web-workers 1] [--inbox-workers 4] [--inbox-processes 0]
                                  [--redis URL] [--database-url URL]

It starts the real server (`jamsosbot serve`) in a subprocess, pointed at local fake platform APIs, posts
real-shaped, authenticated webhooks over HTTP, and measures
  - ack latency: from sending a webhook to its HTTP 200, with webhooks arriving at an offered rate below
    capacity (--paced at --rate per second, open loop; the target is p99 <= 50 ms);
  - turns/s: a flood of --messages webhooks (--concurrency in flight), from the first webhook to the last
    reply the fake API received; the ack latency under that saturation is printed too;
  - duplicates: webhooks delivered twice (platform retries) must not produce a second answer.
Prints its figures (and one JSON line per channel); asserts nothing. On a shared machine the figures include
time the processes waited for a CPU (compare with the load average).

Channels are entries of CHANNELS: a coroutine that starts the server against its fake API and runs
`run_workload` with a Channel (build a message, post it, count the answers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.crypto import generate_key  # noqa: E402
from storage.schema import upgrade  # noqa: E402
from tests.channels.telegram_factories import Updates  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, FakeTwilioAPI, inbound_form, sign  # noqa: E402

MESSAGES = [
    "halo",
    "berapa iuran ojol klo gaji 2jt",
    "apa itu jkk",
    "menu",
    "sy petani bisa ikut ga",
    "cara bayar iuran gmn",
    "makasih min",
    "jht bisa dicairkan kapan",
    "kantor cabang terdekat dimana",
    "2",
]


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": round(q[49], 2), "p99": round(q[98], 2), "max": round(ordered[-1], 2)}


@dataclass
class Result:
    channel: str
    redis_keys: list[str] = field(default_factory=list)  # patterns of what the run left in Redis
    paced_ms: list[float] = field(default_factory=list)  # ack latencies at the offered rate
    flood_ms: list[float] = field(default_factory=list)  # ack latencies while flooding
    rate: float = 0.0
    answered: int = 0
    seconds: float = 0.0
    duplicates_sent: int = 0
    duplicate_answers: int = 0
    errors: int = 0

    def figures(self) -> dict[str, Any]:
        paced, flood = _quantiles(self.paced_ms), _quantiles(self.flood_ms)
        return {
            "channel": self.channel,
            "offered_rate_per_s": self.rate,
            "ack_p50_ms": paced["p50"],
            "ack_p99_ms": paced["p99"],
            "ack_max_ms": paced["max"],
            "paced_webhooks": len(self.paced_ms),
            "flood_ack_p50_ms": flood["p50"],
            "flood_ack_p99_ms": flood["p99"],
            "turns": self.answered,
            "turns_per_s": round(self.answered / self.seconds, 1) if self.seconds else 0.0,
            "duplicates_sent": self.duplicates_sent,
            "duplicate_answers": self.duplicate_answers,
            "errors": self.errors,
        }


@dataclass
class Options:
    paced: int  # webhooks sent at `rate` for the latency figures
    rate: float
    messages: int  # webhooks sent as fast as `concurrency` allows for turns/s
    users: int
    concurrency: int
    duplicates: int
    timeout: float
    web_workers: int
    inbox_processes: int
    switch_interval: float | None


class Channel(Protocol):
    """What the workload needs from a channel under test."""

    def message(self, n: int) -> Any: ...  # the n-th distinct inbound message (a webhook body)

    async def post(self, message: Any) -> bool: ...  # deliver it; True on the platform's expected 200

    def answered(self) -> int: ...  # replies the fake platform API has received so far


async def run_workload(channel: Channel, options: Options, result: Result) -> None:
    """Warm up, then: a paced phase (ack latency at an offered rate, below capacity), a flood (turns/s,
    and ack latency under saturation), and redelivered duplicates (must not be answered again)."""

    async def timed(message: Any, into: list[float]) -> None:
        started = time.perf_counter()
        ok = await channel.post(message)
        into.append((time.perf_counter() - started) * 1000)
        result.errors += not ok

    count = iter(range(10**9))
    warm = [channel.message(next(count)) for _ in range(8)]
    await asyncio.gather(*(channel.post(m) for m in warm))
    await _until(lambda: channel.answered() >= len(warm), options.timeout)

    result.rate = options.rate
    paced = [channel.message(next(count)) for _ in range(options.paced)]
    base = channel.answered()
    tasks = []
    for message in paced:  # open loop: the next webhook does not wait for the previous answer
        tasks.append(asyncio.create_task(timed(message, result.paced_ms)))
        await asyncio.sleep(1.0 / options.rate)
    await asyncio.gather(*tasks)
    await _until(lambda: channel.answered() - base >= len(paced), options.timeout)

    flood = [channel.message(next(count)) for _ in range(options.messages)]
    limit = asyncio.Semaphore(options.concurrency)

    async def limited(message: Any) -> None:
        async with limit:
            await timed(message, result.flood_ms)

    base = channel.answered()
    started = time.monotonic()
    await asyncio.gather(*(limited(m) for m in flood))
    await _until(lambda: channel.answered() - base >= len(flood), options.timeout)
    result.seconds = time.monotonic() - started
    result.answered = channel.answered() - base

    again = random.sample(flood, min(options.duplicates, len(flood)))
    base = channel.answered()
    for message in again:
        result.errors += not await channel.post(message)
    result.duplicates_sent = len(again)
    await asyncio.sleep(2.0)  # time enough for any (wrong) second answer to go out
    result.duplicate_answers = channel.answered() - base


# -- the server ----------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`jamsosbot serve` in a subprocess with the given environment, and with `inbox_processes` > 0 that
    many `jamsosbot inbox-worker` processes beside it (the web process then only acknowledges, as in
    docker-compose.yml). Their output goes to `log`."""

    def __init__(self, env: dict[str, str], options: Options, *, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # PYTHONPATH: the processes import this checkout even when run from an empty working directory
        self.env = {**os.environ, **env, "PUBLIC_URL": self.url, "PYTHONPATH": str(REPO)}
        self.options = options
        self.log = log
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, *args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        boot = "from bot.cli import main; main()"
        if self.options.switch_interval is not None:  # an experiment: GIL hand-over delaying the event loop
            boot = f"import sys; sys.setswitchinterval({self.options.switch_interval!r}); {boot}"
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", boot, *args],
                env=env,
                cwd=env["BENCH_CWD"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def __enter__(self) -> Server:
        split = self.options.inbox_processes > 0
        web_env = {**self.env, "INBOX_WORKERS": "0"} if split else self.env
        web = self._start(
            "serve", "--port", str(self.port), "--workers", str(self.options.web_workers), env=web_env
        )
        for _ in range(self.options.inbox_processes):
            self._start("inbox-worker", env=self.env)
        deadline = time.monotonic() + 300  # the first start may train the NLU model
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                self.__exit__()
                raise RuntimeError(f"a process exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if web.poll() is None and httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("server did not become healthy")

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


# -- WhatsApp ----------------------------------------------------------------------------------------------
class WhatsApp:
    """Signed Twilio webhooks from `users` people; replies counted at the local Twilio API server."""

    path = "/webhooks/twilio/webhook"

    def __init__(self, client: httpx.AsyncClient, api: FakeTwilioAPI, public_url: str, users: int) -> None:
        self.client, self.api, self.url = client, api, public_url + self.path
        self.prefix = f"+62819{random.randint(100, 999)}"
        self.phones = [f"{self.prefix}{n:05d}" for n in range(users)]
        self.sids: list[str] = []

    def message(self, n: int) -> dict[str, str]:
        form = inbound_form(self.phones[n % len(self.phones)], MESSAGES[n % len(MESSAGES)])
        self.sids.append(form["MessageSid"])
        return form

    async def post(self, message: dict[str, str]) -> bool:
        headers = {"X-Twilio-Signature": sign(self.url, message)}
        response = await self.client.post(self.path, data=message, headers=headers)
        return response.status_code == 200

    def answered(self) -> int:
        return len(self.api.sent())


async def bench_whatsapp(base_env: dict[str, str], options: Options) -> Result:
    result = Result("whatsapp")
    with FakeTwilioAPI() as api:
        env = {
            **base_env,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": BOT_NUMBER,
            "TWILIO_API_URL": api.base_url,
        }
        log = Path(base_env["BENCH_CWD"]) / "whatsapp-server.log"
        with Server(env, options, log=log) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                channel = WhatsApp(client, api, server.url, options.users)
                try:
                    await run_workload(channel, options, result)
                finally:
                    # what the run leaves in Redis: sessions and locks of its chats, its dedupe marks
                    result.redis_keys.append(f"jb:*whatsapp:{channel.prefix}*")
                    result.redis_keys += [f"jb:seen:whatsapp:{sid}" for sid in channel.sids]
    return result


# -- Telegram ----------------------------------------------------------------------------------------------
TELEGRAM_SECRET = "bench-" + secrets.token_hex(16)


class Telegram:
    """Bot API updates from `users` chats, posted with the webhook secret; replies counted at the local Bot
    API server (each of MESSAGES is answered with one message)."""

    path = "/webhooks/telegram/webhook"

    def __init__(self, client: httpx.AsyncClient, api: FakeTelegramAPI, users: int) -> None:
        self.client, self.api = client, api
        first_chat = random.randint(1_000_000_000, 1_800_000_000)
        self.chats = list(range(first_chat, first_chat + users))
        self.updates = Updates(first_update_id=random.randint(10**8, 9 * 10**8))
        self.update_ids: list[int] = []

    def message(self, n: int) -> dict[str, Any]:
        update = self.updates.text(self.chats[n % len(self.chats)], MESSAGES[n % len(MESSAGES)])
        self.update_ids.append(update["update_id"])
        return update

    async def post(self, message: dict[str, Any]) -> bool:
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        response = await self.client.post(self.path, json=message, headers=headers)
        return response.status_code == 200

    def answered(self) -> int:
        return len(self.api.calls_of("sendMessage"))


async def bench_telegram(base_env: dict[str, str], options: Options) -> Result:
    result = Result("telegram")
    with FakeTelegramAPI() as api:
        env = {
            **base_env,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.base_url,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        }
        log = Path(base_env["BENCH_CWD"]) / "telegram-server.log"
        with Server(env, options, log=log) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                channel = Telegram(client, api, options.users)
                try:
                    await run_workload(channel, options, result)
                finally:
                    # what the run leaves in Redis: sessions and locks of its chats, its dedupe marks
                    result.redis_keys += [f"jb:*telegram:{chat}" for chat in channel.chats]
                    result.redis_keys += [f"jb:seen:telegram:{uid}" for uid in channel.update_ids]
    return result


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not answer every message in time")
        await asyncio.sleep(0.005)


def _forget_redis_keys(url: str, patterns: list[str]) -> None:
    """Delete what this run left in a shared Redis, and nothing else: its own prefix (the inbox), the
    sessions of its chats and the dedupe marks of its message ids (the session store's own prefix)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for pattern in patterns:
            keys = list(client.scan_iter(match=pattern, count=1000)) if "*" in pattern else [pattern]
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
    finally:
        client.close()


CHANNELS: dict[str, Callable[[dict[str, str], Options], Coroutine[Any, Any, Result]]] = {
    "telegram": bench_telegram,
    "whatsapp": bench_whatsapp,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel", choices=[*CHANNELS, "all"], default="all")
    parser.add_argument("--paced", type=int, default=300, help="webhooks sent at --rate (ack latency)")
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second in the paced phase")
    parser.add_argument("--messages", type=int, default=400, help="webhooks in the flood (turns/s)")
    parser.add_argument("--users", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=16, help="webhooks in flight at once")
    parser.add_argument("--duplicates", type=int, default=50)
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--inbox-workers", type=int, default=4, help="INBOX_WORKERS per process")
    parser.add_argument(
        "--inbox-processes",
        type=int,
        default=0,
        help="`jamsosbot inbox-worker` processes; the web process then only acknowledges (needs --redis)",
    )
    parser.add_argument("--redis", default=None, help="REDIS_URL (default: everything in-process)")
    parser.add_argument("--database-url", default=None, help="DATABASE_URL (default: a fresh SQLite file)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--switch-interval", type=float, default=None, help="sys.setswitchinterval in the server (experiment)"
    )
    args = parser.parse_args()
    if (args.web_workers > 1 or args.inbox_processes) and not args.redis:
        parser.error(
            "--web-workers > 1 and --inbox-processes need --redis (the in-process inbox is per process)"
        )

    with tempfile.TemporaryDirectory(prefix="jb-bench-") as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(database_url)  # before the workers start, so they do not race to create the schema
        env = {
            "JAMSOSBOT_ENV": "test",
            "DATABASE_URL": database_url,
            "DATA_KEY": generate_key(),
            "INBOX_WORKERS": str(args.inbox_workers),
            "REDIS_PREFIX": f"jbbench:{secrets.token_hex(4)}:",
            "BENCH_CWD": tmp,  # no stray .env is read
        }
        if args.redis:
            env["REDIS_URL"] = args.redis
        options = Options(
            args.paced,
            args.rate,
            args.messages,
            args.users,
            args.concurrency,
            args.duplicates,
            args.timeout,
            args.web_workers,
            args.inbox_processes,
            args.switch_interval,
        )
        names = list(CHANNELS) if args.channel == "all" else [args.channel]
        for name in names:
            result = Result(name)
            try:
                result = asyncio.run(CHANNELS[name](env, options))
            finally:
                if args.redis:
                    _forget_redis_keys(args.redis, [f"{env['REDIS_PREFIX']}*", *result.redis_keys])
            figures = result.figures()
            print(
                f"{name}: ack p50 {figures['ack_p50_ms']} ms, p99 {figures['ack_p99_ms']} ms "
                f"(max {figures['ack_max_ms']} ms; {figures['paced_webhooks']} webhooks at {args.rate:g}/s); "
                f"flood: {figures['turns_per_s']} turns/s ({figures['turns']} turns, "
                f"{args.concurrency} in flight, "
                f"ack p50 {figures['flood_ack_p50_ms']} ms, p99 {figures['flood_ack_p99_ms']} ms); "
                f"duplicates answered {figures['duplicate_answers']}/{figures['duplicates_sent']}; "
                f"errors {figures['errors']}"
            )
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
