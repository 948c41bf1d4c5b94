"""Conversation throughput through the REST channel, on PostgreSQL + Redis, like production.

Starts `jamsosbot serve --workers N` on a fresh PostgreSQL database (dropped afterwards) with Redis for
sessions, then drives C concurrent senders, each running a realistic mixed script (questions, a whole BPU
registration, a status check, STOP), and prints messages/s and latency p50/p99. It asserts nothing.

Two ways to load it:
- `--rate R` (open loop, the default 300 msg/s): the C senders together offer R messages/s, each sending
  its next message on its own random schedule (Poisson, C/R seconds apart on average) but never before
  its previous reply arrived, like a person who waits for the answer. Latency counts from the scheduled
  send time, so a server that falls behind shows it in p99 (no coordinated omission).
- `--rate 0` (closed loop): every sender sends again the moment its reply arrives, which finds the
  server's ceiling. Note Little's law: C closed-loop senders at X msg/s see a mean latency of C/X.

Also prints the CPU time the server's worker processes used per message (independent of how busy the
machine is). The client is aiohttp (cheaper per request than httpx), on the same cores as the server.

    python bench/conversation_bench.py --senders 50 --rate 300 --seconds 60 --workers 2
    python bench/conversation_bench.py --senders 50 --rate 0 --seconds 30      # the ceiling
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.proc_cpu import machine_ticks, named_cpu, tree_cpu  # noqa: E402

PG_ADMIN = "postgresql://127.0.0.1:5432/test"

QUESTIONS = [
    "halo min",
    "iuran brp klo gaji 2jt",
    "sy ojol bs ikut ga",
    "jht itu apa sih",
    "klo kecelakaan kerja dpt apa aja",
    "cara bayar iurannya gmn",
    "kantor cabang dmn",
    "asdfgh",
    "makasih ya",
    "bpjs kesehatan beda ga sm ini",
]


def nik_for(i: int) -> tuple[str, str]:
    """A valid-shaped NIK (West Java, Bandung) and the matching birth date, unique per sender."""
    day, month, year = 1 + i % 28, 1 + i % 12, 70 + i % 30
    return f"320101{day:02d}{month:02d}{year:02d}{1 + i % 9999:04d}", f"{day:02d}-{month:02d}-19{year:02d}"


def script(i: int, *, opening: int = 4) -> list[str]:
    """A person's conversation: `opening` questions, a whole registration, a status check, a goodbye."""
    nik, birth = nik_for(i)
    registration = [
        "sy mau daftar bpjs tk",
        "1",
        "Budi Santoso",
        nik,
        birth,
        "0812" + f"{i:08d}"[-8:],
        "Bandung",
        "ojol",
        "2jt",
        "1",
        "1",
        "ya",
    ]
    status = ["cek status", nik, birth]
    rnd = random.Random(i)
    asked = [rnd.choice(QUESTIONS) for _ in range(opening)]
    return [*asked, *registration, *status, rnd.choice(["stop", "makasih", "menu"])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Load:
    """What the senders measured."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.receipts = 0  # replies carrying a registration number: the scripts really register


async def sender(
    client: aiohttp.ClientSession, url: str, i: int, due: float, gap: float, deadline: float, load: Load
) -> None:
    """One person: runs conversations one after another. With gap > 0 each message has a scheduled time,
    the gaps drawn at random around `gap` (Poisson arrivals), and latency counts from that time. People do
    not move in step: each one's first conversation opens with a random number of questions, so the
    senders are at different points of the script (50 registrations in the same instant are no one's
    traffic)."""
    rnd = random.Random(i)
    turn = 0
    while True:
        for text in script(i + turn * 100_000, opening=rnd.randint(1, 16) if turn == 0 else 4):
            if gap:
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                begin = due
                due += rnd.expovariate(1 / gap)
            else:
                begin = time.perf_counter()
            if begin >= deadline:
                return
            try:
                async with client.post(url, json={"sender": f"bench-{i}-{turn}", "message": text}) as r:
                    body = await r.read()
                    load.receipts += text == "ya" and b"BPU-" in body
                    if r.status != 200:
                        load.errors.append(str(r.status))
            except (aiohttp.ClientError, TimeoutError) as exc:
                load.errors.append(type(exc).__name__)
            load.latencies.append(time.perf_counter() - begin)
        turn += 1


async def drive(base: str, senders: int, rate: float, seconds: float) -> tuple[Load, float]:
    load = Load()
    gap = senders / rate if rate > 0 else 0.0
    connector = aiohttp.TCPConnector(limit=senders, limit_per_host=senders)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        url = base + "/webhooks/rest/webhook"
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(
            *(sender(client, url, i, start + gap * i / senders, gap, deadline, load) for i in range(senders))
        )
        return load, time.perf_counter() - start


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("server exited early")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("server did not become ready")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senders", type=int, default=50)
    ap.add_argument("--rate", type=float, default=300, help="offered messages/s in all; 0 = closed loop")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=5)
    args = ap.parse_args()

    db = f"jb_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    prefix = f"jbbench{secrets.token_hex(3)}:"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql+psycopg://127.0.0.1:5432/{db}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": prefix,
        "DATA_KEY": __import__("storage.crypto", fromlist=["generate_key"]).generate_key(),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from storage.schema import upgrade; import os; upgrade(os.environ['DATABASE_URL'])",
            ],
            env=env,
            check=True,
            cwd=ROOT,
        )
        subprocess.run(
            [sys.executable, "-m", "nlu", "train"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bot.cli import main; main()",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
            ],
            env=env,
            cwd=ROOT,
        )
        wait_ready(base, proc)
        if args.warmup:
            asyncio.run(drive(base, min(args.senders, 10), 0, args.warmup))
        ticks_before = machine_ticks()
        cpu_before, client_before = tree_cpu(proc.pid), time.process_time()
        stores_before = named_cpu("postgres", "redis-server")
        load, elapsed = asyncio.run(drive(base, args.senders, args.rate, args.seconds))
        server_cpu, client_cpu = tree_cpu(proc.pid) - cpu_before, time.process_time() - client_before
        ticks = machine_ticks()
        busy = 100 * (ticks[0] - ticks_before[0]) / max(1, ticks[1] - ticks_before[1])
        stores = named_cpu("postgres", "redis-server") - stores_before
        latencies = sorted(load.latencies)
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        mode = f"open loop, offered {args.rate:g} msg/s" if args.rate > 0 else "closed loop"
        print(f"senders={args.senders} workers={args.workers} seconds={elapsed:.1f} ({mode})")
        print(
            f"messages={len(latencies)} messages_per_s={len(latencies) / elapsed:.1f} "
            f"registrations_confirmed={load.receipts}"
        )
        ms = {"p50": q[49], "p90": q[89], "p99": q[98], "max": latencies[-1]}
        print("latency_ms " + " ".join(f"{k}={v * 1000:.1f}" for k, v in ms.items()))
        n = max(1, len(latencies))
        print(
            f"server_cpu_ms_per_message={server_cpu * 1000 / n:.2f} "
            f"(the load generator: {client_cpu * 1000 / n:.2f}; PostgreSQL + Redis: {stores * 1000 / n:.2f})"
        )
        print(f"errors={len(load.errors)} {sorted(set(load.errors))[:5]}")
        print(
            f"machine_cpu_busy={busy:.0f}% of {os.cpu_count()} cores"
            " (every process on the machine, this bench included)"
        )
        print(f"load_average={os.getloadavg()[0]:.2f}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
