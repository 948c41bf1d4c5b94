"""Conversation throughput through the REST channel, on PostgreSQL + Redis, like production.

Starts `jamsosbot serve --workers N` on a fresh PostgreSQL database (dropped afterwards) with Redis for
sessions, then drives C concurrent senders, each running a realistic mixed script (questions, a whole BPU
registration, a status check, STOP), and prints messages/s and latency p50/p99. It asserts nothing.

    python bench/conversation_bench.py --senders 50 --seconds 60 --workers 2
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

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
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


def script(i: int) -> list[str]:
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
    status = ["cek status", nik, "01-01-1990"]
    rnd = random.Random(i)
    return [*rnd.sample(QUESTIONS, 4), *registration, *status, rnd.choice(["stop", "makasih", "menu"])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def sender(
    client: httpx.AsyncClient, i: int, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    turn = 0
    while time.monotonic() < deadline:
        for text in script(i + turn * 100_000):
            if time.monotonic() >= deadline:
                return
            start = time.perf_counter()
            try:
                r = await client.post(
                    "/webhooks/rest/webhook", json={"sender": f"bench-{i}-{turn}", "message": text}
                )
                if r.status_code != 200:
                    errors.append(str(r.status_code))
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            latencies.append(time.perf_counter() - start)
        turn += 1


async def drive(base: str, senders: int, seconds: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(*(sender(client, i, deadline, latencies, errors) for i in range(senders)))
        return latencies, errors, time.monotonic() - start


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
                "-m",
                "uvicorn",
                "--factory",
                "bot.asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=ROOT,
        )
        wait_ready(base, proc)
        if args.warmup:
            asyncio.run(drive(base, min(args.senders, 10), args.warmup))
        latencies, errors, elapsed = asyncio.run(drive(base, args.senders, args.seconds))
        latencies.sort()
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        print(f"senders={args.senders} workers={args.workers} seconds={elapsed:.1f}")
        print(f"messages={len(latencies)} messages_per_s={len(latencies) / elapsed:.1f}")
        ms = {"p50": q[49], "p90": q[89], "p99": q[98], "max": latencies[-1]}
        print("latency_ms " + " ".join(f"{k}={v * 1000:.1f}" for k, v in ms.items()))
        print(f"errors={len(errors)} {sorted(set(errors))[:5]}")
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
