"""Broadcast benchmark: prints figures, asserts nothing.

1. Engine throughput: messages/s of ONE `jamsosbot worker` process with rate limits off, against the local
   Telegram Bot API and Twilio servers (tests/broadcast/fakes.py, run in this process), per channel, with
   the worker's CPU time per message (the figure that does not depend on how busy the machine is); and the
   engine alone over a sender that does no I/O (claims, ledger, settling: what the queue machinery costs).
2. Rate limiting: the rate N workers achieve against a configured limit, measured at the server, which
   enforces that same limit itself (a token bucket holding one second) and counts the 429s the bot caused.
3. Planning: peak RSS (VmHWM) of a process planning a 1,000,000-recipient campaign, and how long it takes.

Runs on a fresh PostgreSQL database (dropped afterwards) and its own Redis prefix (deleted afterwards).

    python bench/broadcast_bench.py                          # everything, default sizes
    python bench/broadcast_bench.py --messages 3000 --rate 50 --workers 2 --plan 1000000
    python bench/broadcast_bench.py --skip-plan --skip-rate
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from arq.connections import RedisSettings, create_pool  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.broadcast.config import load_broadcast_config  # noqa: E402
from bot.broadcast.keys import Keys  # noqa: E402
from bot.broadcast.model import Audience, CampaignDraft  # noqa: E402
from bot.broadcast.service import BroadcastService  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.crypto import Vault, generate_key, parse_keys  # noqa: E402
from storage.db import Database, make_engine  # noqa: E402
from storage.schema import upgrade  # noqa: E402
from tests.broadcast.conftest import fake_settings  # noqa: E402
from tests.broadcast.fakes import BroadcastTelegramAPI, BroadcastTwilioAPI  # noqa: E402
from tests.broadcast.seed import seed  # noqa: E402
from tests.broadcast.workers import WorkerProcess, worker_env  # noqa: E402

PG_ADMIN = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
QUIET_OFF = {"quiet_start": "00:00", "quiet_end": "00:00"}
TEXT = "Halo {nama}, kerja keras bebas cemas! Lindungi dirimu mulai Rp16.800 sebulan."


@contextmanager
def database() -> Iterator[str]:
    dsn = make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = psycopg.connect(dsn, autocommit=True)
    name = f"jb_bench_{secrets.token_hex(5)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def clean_redis(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for pattern in Keys(prefix).arq_patterns():
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


async def send_campaign(
    settings: Settings, db: Database, channel: str, workers: int, config: dict[str, Any], log_dir: Path
) -> tuple[float, float]:
    """Send a campaign to every `channel` subscriber with `workers` worker processes (started and ready
    first, so start-up is not measured); returns the CPU seconds the workers used while sending, and those
    this process used meanwhile (the local servers' threads, and polling the progress every 0.1 s)."""
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    service = BroadcastService(settings, db, config=load_broadcast_config(**config), redis=pool)
    info = await service.create(
        CampaignDraft(name=f"bench {channel}", text=TEXT, audience=Audience(channels=(channel,)))
    )
    procs = [
        WorkerProcess(worker_env(settings, config), log_dir / f"{channel}-{i}.log").start()
        for i in range(workers)
    ]
    try:
        for p in procs:
            p.wait_ready()
        cpu_before, own_before = sum(cpu_seconds(p.proc.pid) for p in procs if p.proc), time.process_time()
        await service.start(info.id)
        while (await service.progress(info.id)).status != "finished":
            await asyncio.sleep(0.1)
        own = time.process_time() - own_before
        return sum(cpu_seconds(p.proc.pid) for p in procs if p.proc) - cpu_before, own
    finally:
        for p in procs:
            p.stop()
        await service.aclose()
        await pool.aclose()  # type: ignore[attr-defined]


def accepted(channel: str, tg: BroadcastTelegramAPI, tw: BroadcastTwilioAPI) -> list[float]:
    if channel == "telegram":
        return [c.at for c in tg.calls if c.method == "sendMessage" and c.status == 200]
    return [r.at for r in tw.requests if r.method == "POST" and r.status == 201]


async def throughput(args: argparse.Namespace, url: str, key: str, log_dir: Path) -> None:
    print(f"\n1. throughput of one worker process, rate limits off, {args.messages} messages per channel")
    print(f"   (concurrency {args.concurrency} per sender job, {args.parallel} sender jobs; load {load()})")
    config = {
        **QUIET_OFF,
        "rate_limits": False,
        "concurrency": args.concurrency,
        "parallel": args.parallel,
        "batch_size": 500,
    }
    for channel in ("telegram", "whatsapp"):
        prefix = f"jbbench:{secrets.token_hex(4)}:"
        with BroadcastTelegramAPI() as tg, BroadcastTwilioAPI() as tw:
            settings = fake_settings(url, key, prefix, tg, tw)
            db = Database(make_engine(url), Vault(parse_keys(key)))
            seed(db, channel, args.messages, first=secrets.randbelow(10**6) * 10)
            try:
                cpu, server = await send_campaign(settings, db, channel, 1, config, log_dir)
                times = accepted(channel, tg, tw)
                print(
                    f"   {channel:9s} {len(times):6d} sent  {rate(times):7.0f} messages/s   "
                    f"worker CPU {1000 * cpu / len(times):.2f} ms/message "
                    f"(= {len(times) / cpu:.0f} messages per CPU-second); "
                    f"local server {1000 * server / len(times):.2f} ms/message"
                )
            finally:
                db.dispose()
                clean_redis(prefix)
    await null_engine(args, url, key)


async def null_engine(args: argparse.Namespace, url: str, key: str) -> None:
    """The engine over a port that sends nothing: claims, ledger, limiter checks and settling only."""
    from bot.broadcast.worker import build_app

    class NullPort:
        channel = "telegram"
        verifiable = False
        count = 0

        async def warm_up(self) -> None:
            return None

        def mode(self, *_: Any) -> str:
            return "text"

        def preview(self, *_: Any) -> dict[str, Any]:
            return {}

        async def send(self, chat_id: str, message: Any, mode: Any) -> str:
            self.count += 1
            return str(self.count)

        async def find(self, *_: Any) -> str | None:
            return None

    prefix = f"jbbench:{secrets.token_hex(4)}:"
    db = Database(make_engine(url), Vault(parse_keys(key)))
    with BroadcastTelegramAPI() as tg, BroadcastTwilioAPI() as tw:
        settings = fake_settings(url, key, prefix, tg, tw)
    seed(db, "telegram", args.messages, first=secrets.randbelow(10**6) * 10)
    config = load_broadcast_config(
        **QUIET_OFF, rate_limits=False, concurrency=args.concurrency, batch_size=500
    )
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        app = await build_app(settings, config, pool, db=db, ports={"telegram": NullPort()})  # type: ignore[dict-item]
        service = BroadcastService(settings, db, config=config, redis=pool)
        info = await service.create(
            CampaignDraft(name="null", text=TEXT, audience=Audience(channels=("telegram",)))
        )
        await service.start(info.id)
        await app.planner.plan(info.id)
        from tests.broadcast.helpers import drain

        started, cpu = time.perf_counter(), time.process_time()
        await drain(app, info.id, channels=("telegram",))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        sent = app.engine.stats.sent
        print(
            f"   engine alone (sender does no I/O, one process): {sent / wall:.0f} messages/s, "
            f"CPU {1000 * cpu / sent:.2f} ms/message (= {sent / cpu:.0f} messages per CPU-second)"
        )
    finally:
        await pool.aclose()  # type: ignore[attr-defined]
        db.dispose()
        clean_redis(prefix)


async def rate_limited(args: argparse.Namespace, url: str, key: str, log_dir: Path) -> None:
    print(
        f"\n2. rate limit {args.rate:g} messages/s per channel, {args.workers} worker processes, "
        f"{args.rate_messages} messages; the server enforces the same limit"
    )
    config = {
        **QUIET_OFF,
        "telegram_rate": args.rate,
        "whatsapp_rate": args.rate,
        "concurrency": args.concurrency,
    }
    for channel in ("telegram", "whatsapp"):
        prefix = f"jbbench:{secrets.token_hex(4)}:"
        with BroadcastTelegramAPI(rate=args.rate) as tg, BroadcastTwilioAPI(rate=args.rate) as tw:
            settings = fake_settings(url, key, prefix, tg, tw)
            db = Database(make_engine(url), Vault(parse_keys(key)))
            seed(db, channel, args.rate_messages, first=secrets.randbelow(10**6) * 10)
            try:
                await send_campaign(settings, db, channel, args.workers, config, log_dir)
                times = accepted(channel, tg, tw)
                achieved = rate(times)
                limited = tg.limited if channel == "telegram" else tw.limited
                off = 100 * (achieved / args.rate - 1)
                print(
                    f"   {channel:9s} achieved {achieved:6.2f} messages/s ({off:+.1f}% of the limit), "
                    f"429s caused: {limited}"
                )
            finally:
                db.dispose()
                clean_redis(prefix)


PLANNER = """
import asyncio, json, os, sys, time
from pathlib import Path
from bot.broadcast.keys import Keys
from bot.broadcast.planner import Planner
from storage.crypto import Vault, parse_keys
from storage.db import Database, make_engine
import redis.asyncio as aioredis
from datetime import UTC, datetime

def kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])

async def main():
    db = Database(make_engine(os.environ["URL"]), Vault(parse_keys(os.environ["KEY"])))
    client = aioredis.Redis.from_url(os.environ["REDIS"])
    before = kb("VmRSS:")
    started = time.perf_counter()
    rows = await Planner(db, client, Keys(os.environ["PREFIX"]), batch=int(os.environ["BATCH"]),
                         clock=lambda: datetime.now(UTC)).plan(int(os.environ["CAMPAIGN"]))
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started, "rss_before_kb": before,
                      "peak_kb": kb("VmHWM:")}))
    await client.aclose()

asyncio.run(main())
"""


def seed_bulk(url: str, count: int) -> None:
    """`count` opted-in Telegram subscribers, generated by PostgreSQL itself (sealed-looking bytes: the
    planner never opens them), spread over regions and occupations like a real list."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM conversations").fetchone()
        before = row[0] if row else 0
        conn.execute(
            "INSERT INTO conversations (channel, chat_id_enc, conversation_bidx, created_at) "
            "SELECT 'telegram', decode(md5(i::text) || md5('c' || i::text), 'hex'), "
            "decode(md5('b' || i::text), 'hex'), now() FROM generate_series(1, %s) AS i",
            (count,),
        )
        conn.execute(
            "INSERT INTO subscribers (conversation_id, channel, status, opted_in_at, opted_in_source, "
            "region, occupation, unreachable, created_at, updated_at) "
            "SELECT id, 'telegram', 'opted_in', now(), 'bench', "
            "(ARRAY['Kabupaten Bogor', 'Gresik', 'Sumedang'])[1 + mod(id, 3)], "
            "(ARRAY['ojol', 'petani', 'pedagang pasar', 'nelayan'])[1 + mod(id, 4)], "
            "false, now(), now() FROM conversations WHERE id > %s",
            (before,),
        )
        conn.execute("ANALYZE conversations")
        conn.execute("ANALYZE subscribers")


async def planning(args: argparse.Namespace, url: str, key: str) -> None:
    print(f"\n3. planning a {args.plan:,}-recipient campaign")
    started = time.perf_counter()
    seed_bulk(url, args.plan)
    print(f"   ({args.plan:,} subscribers generated in {time.perf_counter() - started:.0f} s)")
    prefix = f"jbbench:{secrets.token_hex(4)}:"
    db = Database(make_engine(url), Vault(parse_keys(key)))
    with BroadcastTelegramAPI() as tg, BroadcastTwilioAPI() as tw:
        settings = fake_settings(url, key, prefix, tg, tw)
    service = BroadcastService(settings, db, config=load_broadcast_config(**QUIET_OFF))
    audience = Audience(sources=("bench",))  # the generated subscribers, not those of parts 1 and 2
    info = await service.create(CampaignDraft(name="satu juta", text=TEXT, audience=audience))
    count = await service.count_audience(info.draft.audience)
    await service.start(info.id)
    env = {
        **os.environ,
        "URL": url,
        "KEY": key,
        "REDIS": REDIS_URL,
        "PREFIX": prefix,
        "CAMPAIGN": str(info.id),
        "BATCH": str(args.plan_batch),
    }
    try:
        out = subprocess.run(
            [sys.executable, "-c", PLANNER], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
    finally:
        db.dispose()
        clean_redis(prefix)
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"   audience {count.total:,}; planned {result['rows']:,} delivery rows in {result['seconds']:.1f} s "
        f"({result['rows'] / result['seconds']:,.0f} rows/s, chunks of {args.plan_batch})"
    )
    print(
        f"   planner process RSS: {result['rss_before_kb'] / 1024:.0f} MB after start-up, "
        f"peak {result['peak_kb'] / 1024:.0f} MB"
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000, help="per channel, for the throughput run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--rate-messages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plan", type=int, default=1_000_000)
    parser.add_argument("--plan-batch", type=int, default=5000)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--skip-plan", action="store_true")
    args = parser.parse_args()
    key = generate_key()
    print(f"broadcast benchmark on {os.cpu_count()} CPUs, load {load()}")
    with tempfile.TemporaryDirectory() as tmp, database() as url:
        if not args.skip_throughput:
            await throughput(args, url, key, Path(tmp))
        if not args.skip_rate:
            await rate_limited(args, url, key, Path(tmp))
        if not args.skip_plan:
            await planning(args, url, key)


if __name__ == "__main__":
    asyncio.run(main())
