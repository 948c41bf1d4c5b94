"""Helpers for the membership tests: real databases, the project's membership API served by uvicorn on a
free port in a background thread, a failure-injecting wrapper backend, and realistic applications.

The PostgreSQL at 127.0.0.1:5432 is shared with other developers' runs: each test session creates its own
database (`jb_<random>`) and drops it at the end.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

import psycopg
import uvicorn
from fastapi import FastAPI

from storage.crypto import Vault, generate_key, parse_keys
from storage.db import Database, make_engine
from storage.membership.api import membership_api
from storage.membership.base import (
    BackendUnavailable,
    BpuApplication,
    MemberRecord,
    MembershipBackend,
    RegistrationReceipt,
    RegistrationStatus,
)
from storage.schema import upgrade_engine

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
API_PREFIX = "/api/membership/v1"
TOKEN = "test-token-" + uuid.uuid4().hex


def _database(url: str) -> Database:
    engine = make_engine(url, pool_size=5)
    upgrade_engine(engine)  # the real migrations, as `jamsosbot db upgrade` runs them
    return Database(engine, Vault(parse_keys(generate_key())))


@contextmanager
def sqlite_database(path: str) -> Iterator[Database]:
    db = _database(f"sqlite:///{path}")
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def postgres_database() -> Iterator[Database]:
    """A fresh PostgreSQL database of this test session's own, dropped at the end."""
    name = "jb_" + uuid.uuid4().hex[:16]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db = _database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serve(backend: MembershipBackend, token: str = TOKEN) -> Iterator[str]:
    """Serve the membership API over `backend` on 127.0.0.1; yields the API's base URL."""
    app = FastAPI()
    app.include_router(membership_api(backend, token), prefix=API_PREFIX)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the membership API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}{API_PREFIX}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Flaky:
    """A MembershipBackend wrapper that fails or dawdles on command, to play a sick core system.

    `fail[op] = n` makes the next n calls of `op` raise BackendUnavailable (the API answers 503);
    `slow[op] = n` makes the next n calls answer `pause` seconds late, *after* the real work is done (so a
    client that times out on `register` has in fact registered). `calls` counts the calls that reached
    the backend.
    """

    def __init__(self, inner: MembershipBackend) -> None:
        self.inner = inner
        self.fail: Counter[str] = Counter()
        self.slow: Counter[str] = Counter()
        self.pause = 1.0
        self.calls: Counter[str] = Counter()
        self._mutex = threading.Lock()

    def _enter(self, op: str) -> None:
        with self._mutex:
            self.calls[op] += 1
            failing = self.fail[op] > 0
            if failing:
                self.fail[op] -= 1
        if failing:
            raise BackendUnavailable(f"{op}: injected failure")

    def _leave(self, op: str) -> None:
        with self._mutex:
            slow = self.slow[op] > 0
            if slow:
                self.slow[op] -= 1
        if slow:
            time.sleep(self.pause)

    def reset(self) -> None:
        with self._mutex:
            self.fail.clear()
            self.slow.clear()
            self.calls.clear()

    def lookup(
        self, *, birth_date: date, nik: str | None = None, kpj: str | None = None
    ) -> MemberRecord | None:
        self._enter("lookup")
        result = self.inner.lookup(birth_date=birth_date, nik=nik, kpj=kpj)
        self._leave("lookup")
        return result

    def register(self, application: BpuApplication, *, idempotency_key: str) -> RegistrationReceipt:
        self._enter("register")
        result = self.inner.register(application, idempotency_key=idempotency_key)
        self._leave("register")
        return result

    def status(self, registration_number: str) -> RegistrationStatus | None:
        self._enter("status")
        result = self.inner.status(registration_number)
        self._leave("status")
        return result

    def ping(self) -> bool:
        self._enter("ping")
        return self.inner.ping()


# -- realistic applications -----------------------------------------------------------------------------

_serials = itertools.count(random.randrange(1, 5000))
_FIRST = ["Siti", "Budi", "Dewi", "Agus", "Rina", "Joko", "Wati", "Eko", "Sri", "Hendra"]
_LAST = ["Aminah", "Santoso", "Lestari", "Saputra", "Wulandari", "Prasetyo", "Rahayu", "Hidayat"]


def nik_for(birth_date: date, *, female: bool) -> str:
    """A NIK (Bandung regency, Jawa Barat) whose date part matches `birth_date`, unique in this run."""
    day = birth_date.day + (40 if female else 0)
    serial = next(_serials) % 9999 + 1
    return f"320401{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"


def application(
    *, birth_date: date | None = None, female: bool | None = None, **changes: object
) -> BpuApplication:
    """A valid BPU application of a driver (ojol) earning Rp2 juta, paying 3 months of JKK+JKM."""
    rng = random.Random()
    born = birth_date or date(rng.randint(1970, 2002), rng.randint(1, 12), rng.randint(1, 28))
    is_female = rng.random() < 0.5 if female is None else female
    base = BpuApplication(
        nik=nik_for(born, female=is_female),
        full_name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        birth_date=born,
        phone=f"+628{rng.randint(10**9, 10**10 - 1)}",
        city="Kabupaten Bandung",
        occupations=("ojol",),
        monthly_income=2_000_000,
        programs=("jkk", "jkm"),
        payment_months=3,
        monthly_contribution=26_800,
        total_due=80_400,
        channel="telegram",
        consent_id="consent-" + uuid.uuid4().hex[:12],
        address="Jl. Raya Banjaran No. 12",
        postal_code="40377",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def new_key() -> str:
    return str(uuid.uuid4())
