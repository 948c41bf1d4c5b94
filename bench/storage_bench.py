"""Storage benchmark: load members into PostgreSQL through `import-members`, then time look-ups and the Redis
session store.

    python bench/storage_bench.py                 # 1,000,000 members (several minutes on 2 cores)
    python bench/storage_bench.py --rows 100000   # a quicker run
    python bench/storage_bench.py --csv members.csv --import-only   # the import of a kept file only

Prints the import rate (rows/s, encryption included) with the load average, the CPU seconds per 100,000
rows of the importing process, its worker processes and the PostgreSQL backends (the figure to compare on a
shared machine), the resident memory at points of the import (flat as the file grows), `lookup` latency
p50/p99 (by NIK and by KPJ, with the birth date), the session store's get/set p99 on Redis, and the peak
RSS. PostgreSQL gets a database of its own (`jb_bench_<random>`),
dropped at the end; Redis keys live under a unique prefix and are deleted at the end.
Targets (issue 3): import >= 20,000 rows/s, lookup p99 <= 10 ms with 1,000,000 members.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.proc_cpu import TreeCpu, process_cpu
from bot.clock import WIB, FixedClock
from storage.crypto import Vault, generate_key, parse_keys
from storage.db import Database, make_engine
from storage.membership.sql import SqlMembershipBackend
from storage.ops.fake_members import Sample, write_members_csv
from storage.ops.import_members import choose_workers, import_members
from storage.schema import upgrade

TODAY = date(2026, 3, 10)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


def backend_pids(admin_dsn: str, database: str) -> dict[int, str]:
    """PostgreSQL processes working for `database`, and the server's own helpers (WAL writer, checkpointer,
    background writer, shared by every database on the server)."""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        found = admin.execute(
            "SELECT pid, coalesce(backend_type, '') FROM pg_stat_activity WHERE datname = %s"
            " OR backend_type IN ('walwriter', 'checkpointer', 'background writer')",
            (database,),
        ).fetchall()
    return {
        pid: "server" if kind in ("walwriter", "checkpointer", "background writer") else "db"
        for pid, kind in found
    }


def bench_import(
    db: Database, csv_path: Path, workers: int | None, admin_dsn: str, database: str, label: str = "import"
) -> None:
    memory: dict[int, float] = {}

    def progress(done: int, total: int) -> None:
        decile = done * 10 // max(total, 1)
        memory.setdefault(decile, rss_mb())

    if workers is None:
        workers = choose_workers(csv_path.stat().st_size)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: {workers} worker processes (load average {load} on {os.cpu_count()} cores)")
    pg_before = {pid: process_cpu(pid) for pid in backend_pids(admin_dsn, database)}
    cpu = TreeCpu().start()
    started = time.perf_counter()
    report = import_members(db, csv_path, today=TODAY, workers=workers, on_progress=progress, actor="bench")
    elapsed = time.perf_counter() - started
    own, children = cpu.stop()
    pg = {"db": 0.0, "server": 0.0}
    for pid, kind in backend_pids(admin_dsn, database).items():
        pg[kind] += process_cpu(pid) - pg_before.get(pid, 0.0)
    rate = report.rows_written / elapsed
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{label}: {report.rows_written:,} rows in {elapsed:.1f} s = {rate:,.0f} rows/s (load average {load})"
    )
    per = 100_000 / max(report.rows_read, 1)
    total = own + children + pg["db"] + pg["server"]
    print(
        f"{label}: CPU s per 100k rows: {total * per:.2f} = importer {own * per:.2f} + workers "
        f"{children * per:.2f} + PostgreSQL backends {pg['db'] * per:.2f} + WAL writer/checkpointer/"
        f"bgwriter (whole server) {pg['server'] * per:.2f}"
    )
    shown = ", ".join(
        f"{d * 10}% {mb:.0f} MB" for d, mb in sorted(memory.items()) if d in (1, 3, 5, 7, 9, 10)
    )
    print(f"{label}: RSS of the importing process at {shown}")
    if report.rows_rejected:
        print(f"{label}: {report.rows_rejected} rows rejected (see {report.errors_path})")


def bench_lookups(db: Database, samples: list[Sample]) -> None:
    backend = SqlMembershipBackend(db, clock=FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=WIB)))
    for s in samples[:50]:  # warm the pool and the caches
        backend.lookup(nik=s.nik, birth_date=s.birth_date)
    timings: list[float] = []
    found = 0
    for i, s in enumerate(samples):
        wrong = i % 10 == 9  # one in ten with a wrong birth date: a miss must cost what a hit costs
        birth = s.birth_date + timedelta(days=1) if wrong else s.birth_date
        started = time.perf_counter()
        record = (
            backend.lookup(nik=s.nik, birth_date=birth)
            if i % 2
            else backend.lookup(kpj=s.kpj, birth_date=birth)
        )
        timings.append((time.perf_counter() - started) * 1000)
        found += record is not None
    p50, p99 = percentiles(timings)
    print(f"lookup: {len(timings)} look-ups ({found} found), p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def bench_sessions(redis_url: str, vault: Vault, count: int) -> None:
    try:
        from storage.sessions import RedisStore
    except ImportError:
        print("sessions: storage/sessions.py has no RedisStore yet; skipped")
        return
    prefix = f"jb:bench:{secrets.token_hex(4)}:"
    store = RedisStore.from_url(redis_url, prefix=prefix)
    state = {"flow": "register", "step": "ask_income", "slots": {"nik": "3201014506900003", "name": "x" * 40}}
    blob = {"sealed": vault.seal(json.dumps(state).encode())}
    sets: list[float] = []
    gets: list[float] = []
    try:
        for i in range(count):
            key = f"conv:telegram:{i % 500}"
            started = time.perf_counter()
            store.set(key, blob, 3600)
            sets.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            store.get(key)
            gets.append((time.perf_counter() - started) * 1000)
    finally:
        for key in list(store.scan("")):
            store.delete(key)
    print(f"sessions (Redis): set p99 {percentiles(sets)[1]:.2f} ms, get p99 {percentiles(gets)[1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=None, help="import worker processes (default: auto)")
    parser.add_argument("--csv", type=Path, default=None, help="import this members CSV (kept) instead")
    parser.add_argument("--import-only", action="store_true", help="skip the look-up and session timings")
    parser.add_argument("--again", action="store_true", help="import the same file a second time (updates)")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG_URL", "postgresql://root@127.0.0.1:5432/test")
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()

    name = f"jb_bench_{secrets.token_hex(4)}"
    admin_dsn = make_url(args.pg).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = (
        make_url(args.pg)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    vault = Vault(parse_keys(generate_key()))
    db: Database | None = None
    try:
        upgrade(url)
        db = Database(make_engine(url, pool_size=4), vault)
        with tempfile.TemporaryDirectory(prefix="jb-bench-") as folder:
            csv_path = args.csv or Path(folder) / "members.csv"
            samples = []
            if args.csv is None:
                started = time.perf_counter()
                samples = write_members_csv(csv_path, args.rows, today=TODAY, samples=args.lookups)
                size = csv_path.stat().st_size / 2**20
                took = time.perf_counter() - started
                print(f"file: {args.rows:,} fake members, {size:.0f} MB, written in {took:.1f} s")
            bench_import(db, csv_path, args.workers, admin_dsn, name)
            if args.again:
                bench_import(db, csv_path, args.workers, admin_dsn, name, label="re-import")
        if args.import_only or not samples:
            return
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE members")
        bench_lookups(db, samples)
        bench_sessions(args.redis, vault, 5_000)
        print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")
    finally:
        if db is not None:
            db.dispose()
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
