"""What the browser test runs against: the real app on PostgreSQL and Redis, a `jamsosbot worker` process,
the local Telegram Bot API server with subscribers in two regions, and Debian's chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.admin import staff as accounts
from bot.app import create_app
from bot.clock import now_wib
from bot.settings import Settings
from storage.crypto import generate_key
from storage.repo import events, subscribers
from tests.admin.conftest import PASSWORD, admin_settings
from tests.admin.live import serve_app
from tests.admin.realdeps import REDIS_URL, postgres_database, redis_prefix
from tests.fakes.telegram_api import FakeTelegramAPI

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "admin"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOGOR, BANDUNG = "Kabupaten Bogor", "Kota Bandung"
OWN_CHAT = "424242"  # the staff member's own Telegram chat, for the test send
RATE = 8  # messages/s: slow enough to watch the progress bar move, fast enough for a short test


def chat(n: int) -> str:
    return str(7_100_000_000 + n)


@dataclass
class Stack:
    base_url: str
    settings: Settings
    telegram: FakeTelegramAPI
    bogor: list[str]  # chats that should get the campaign
    opted_out: str
    blocked: str
    bandung: list[str]


def _quiet_env() -> dict[str, str]:
    # Quiet hours that do not cover the next hours (the test must send now), yet show on the pages.
    start = now_wib() + timedelta(hours=6)
    end = start + timedelta(hours=1)
    return {"BROADCAST_QUIET_START": f"{start:%H:%M}", "BROADCAST_QUIET_END": f"{end:%H:%M}"}


def _seed(settings: Settings, telegram: FakeTelegramAPI) -> tuple[list[str], str, str, list[str]]:
    from storage.db import open_database

    db = open_database(settings)
    try:
        occupations = ["ojol", "pedagang pasar", "petani"]
        bogor = [chat(i) for i in range(30)]
        bandung = [chat(100 + i) for i in range(10)]
        for i, chat_id in enumerate(bogor + bandung):
            region = BOGOR if chat_id in bogor else BANDUNG
            subscribers.opt_in(
                db,
                channel="telegram",
                chat_id=chat_id,
                source="pasar_cibinong" if i % 2 else "chat",
                region=region,
                occupation=occupations[i % 3],
            )
        opted_out, blocked = bogor[3], bogor[7]
        subscribers.opt_out(db, channel="telegram", chat_id=opted_out, source="chat")
        telegram.block(blocked)
        # a little history for the funnel and the unrecognised messages
        for n in range(6):
            draft = f"d-{n}"
            events.append_event(
                db, "registration.started", channel="telegram", chat_id=bandung[n], data={"draft_id": draft}
            )
            if n < 4:
                events.append_event(
                    db,
                    "consent.given",
                    channel="telegram",
                    chat_id=bandung[n],
                    data={"draft_id": draft, "purpose": "bpu_registration"},
                )
            if n < 2:
                events.append_event(
                    db,
                    "registration.submitted",
                    channel="telegram",
                    chat_id=bandung[n],
                    data={"draft_id": draft, "registration_number": f"BPU-{n}"},
                )
        for text, times in (
            ("kapan bansos cair min", 3),
            ("nik saya 3201014506900003 kok ga bisa", 1),
            ("wkwk", 2),
        ):
            for _ in range(times):
                events.append_event(
                    db, "fallback", channel="telegram", data={"text": text, "reason": "out_of_scope"}
                )
        accounts.add_staff(db, actor="cli", username="siti", password=PASSWORD, role="admin")
        accounts.add_staff(db, actor="cli", username="budi", password=PASSWORD, role="broadcaster")
        accounts.add_staff(db, actor="cli", username="ani", password=PASSWORD, role="viewer")
        return [c for c in bogor if c != opted_out], opted_out, blocked, bandung
    finally:
        db.dispose()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "broadcast worker" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(
                "the broadcast worker did not start:\n" + log.read_text(errors="replace")[-3000:]
            )
        time.sleep(0.1)
    return proc


@contextmanager
def running_stack(tmp: Path, nlu_cache: Path) -> Iterator[Stack]:
    """PostgreSQL (own database), Redis (own prefix), the local Telegram API with subscribers, a broadcast
    worker process, and the app served on 127.0.0.1; all torn down afterwards."""
    quiet = _quiet_env()
    with (
        postgres_database() as pg_url,
        redis_prefix() as prefix,
        FakeTelegramAPI() as telegram,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in {
            **quiet,
            "BROADCAST_TELEGRAM_RATE": str(RATE),
            "BROADCAST_TEND_SECONDS": "1",
        }.items():
            patch.setenv(name, value)
        settings = admin_settings(
            tmp,
            nlu_cache,
            DATABASE_URL=pg_url,
            REDIS_URL=REDIS_URL,
            REDIS_PREFIX=prefix,
            DATA_KEY=generate_key(),
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.base_url,
        )
        bogor, opted_out, blocked, bandung = _seed(settings, telegram)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_"))
        }
        env.update(
            DATABASE_URL=pg_url,
            REDIS_URL=REDIS_URL,
            REDIS_PREFIX=prefix,
            DATA_KEY=settings.data_key.get_secret_value(),  # type: ignore[union-attr]
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.base_url,
            PYTHONUNBUFFERED="1",
        )
        worker = _worker(env, tmp / "worker.log")
        try:
            with serve_app(create_app(settings)) as base_url:
                yield Stack(base_url, settings, telegram, bogor, opted_out, blocked, bandung)
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright browser context on Debian's chromium with the flags the project requires and a fresh
    --user-data-dir (a persistent context over a new temporary profile)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="jb-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
            locale="id-ID",
            timezone_id="Asia/Jakarta",
        )
        try:
            yield context
        finally:
            context.close()
