"""What the fault tests share: settings for an app wired to proxies and local platform APIs, the app run
in-process (its real lifespan: runtime, inbox, senders, workers), people on each channel, a registration
walked through to its summary, and what the database holds afterwards.

Outages last JAMSOSBOT_FAULT_SECONDS (default 3 s, the CI version; `JAMSOSBOT_FAULT_SECONDS=30` is the
issue's 30-second outage). Every wait has a deadline for a hang, never a speed requirement.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from bot.app import create_app
from bot.settings import Settings
from storage.db import Database
from storage.models import Registration
from tests.channels.telegram_factories import Updates
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, FakeTwilioAPI, inbound_form, sign

PUBLIC_URL = "https://bot.bpjs.example.id"
TELEGRAM_SECRET = "faults-" + "a1b2c3d4" * 4
RECEIPT = re.compile(r"Nomor pendaftaran: (BPU-\d{4}-\d{6})")
HANG = 90.0  # seconds: a deadline for something that should happen by itself, not a speed target


def note_recovery(fault: str, seconds: float) -> None:
    """With JAMSOSBOT_FAULT_REPORT=<file>, append how long `fault` took to recover (for docs/reliability.md;
    a figure, never an assertion)."""
    path = os.environ.get("JAMSOSBOT_FAULT_REPORT")
    if path:
        line = {"fault": fault, "outage_s": outage_seconds(), "recovered_after_s": round(seconds, 2)}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def outage_seconds() -> float:
    """How long a dependency stays down in these tests (30 s with JAMSOSBOT_FAULT_SECONDS=30)."""
    return float(os.environ.get("JAMSOSBOT_FAULT_SECONDS", "3"))


def long_mode() -> bool:
    """The issue's 30-second outages, with the production leases (the recovery times are then real)."""
    return outage_seconds() >= 30


def fast_leases() -> dict[str, str]:
    """Short leases for the CI version: a dead worker's chat and a dead turn's lock free up quickly."""
    if long_mode():
        return {}
    return {"INBOX_LEASE_SECONDS": "2", "CONVERSATION_LOCK_SECONDS": "5"}


def fault_settings(
    *,
    database_url: str,
    data_key: str,
    redis_url: str | None = None,
    redis_prefix: str = "jb:",
    telegram: FakeTelegramAPI | None = None,
    twilio: FakeTwilioAPI | None = None,
    **extra: Any,
) -> Settings:
    values: dict[str, Any] = {
        "JAMSOSBOT_ENV": "test",
        "DATABASE_URL": database_url,
        "DATA_KEY": data_key,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        "PUBLIC_URL": PUBLIC_URL,
        "INBOX_WORKERS": 2,
        **fast_leases(),
    }
    if telegram is not None:
        values |= {
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        }
    if twilio is not None:
        values |= {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": BOT_NUMBER,
            "TWILIO_API_URL": twilio.base_url,
        }
    values |= extra
    return Settings.model_validate(values)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app with its lifespan, and an HTTP client bound to it in-process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.to_thread(app.state.runtime.nlu.parse, "halo")  # load the model outside any turn
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:5005") as client:
            yield app, client


async def until(predicate: Callable[[], bool | Awaitable[bool]], *, what: str, timeout: float = HANG) -> None:
    """Wait until `predicate()` holds (it may be async); fail after `timeout` seconds (a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def after_first_call(
    monkeypatch: pytest.MonkeyPatch, obj: Any, name: str, action: Callable[[], None]
) -> None:
    """Run `action` right after the first call of `obj.name` returns (a fault at an exact moment)."""
    original = getattr(obj, name)
    fired: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not fired:
            fired.append(True)
            action()
        return result

    monkeypatch.setattr(obj, name, wrapper)


# -- a registration --------------------------------------------------------------------------------------
class Person:
    """A man of Kabupaten Bogor with a NIK matching his birth date, unique within the run."""

    def __init__(self) -> None:
        rng = random.Random()
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1970, 1999)
        self.nik = f"320101{day:02d}{month:02d}{year % 100:02d}{rng.randint(1, 9999):04d}"
        self.birth = f"{day:02d}-{month:02d}-{year}"
        self.phone = f"0812{rng.randint(10_000_000, 99_999_999)}"

    def answers(self) -> list[str]:
        """From "I want to register" to the summary: consent, name, NIK, birth date, phone, city,
        occupation (5 = pedagang pasar), income, package (2 = with JHT), period (3 months)."""
        return [
            "sy mau daftar bpjs tk",
            "1",
            "budi santoso",
            self.nik,
            self.birth,
            self.phone,
            "kab bogor",
            "5",
            "2,5 juta",
            "2",
            "3",
        ]


def registration_numbers(db: Database, nik: str) -> list[str]:
    """The registration numbers the database holds for `nik`."""
    with db.session() as session:
        rows = session.scalars(
            select(Registration.registration_number).where(
                Registration.nik_bidx.in_(db.vault.blind_indexes("nik", nik))
            )
        )
        return [str(n) for n in rows]


def registrations_total(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Registration)) or 0)


def receipts(texts: list[str]) -> list[str]:
    """The registration numbers in the bot's messages (one per receipt sent)."""
    return [m.group(1) for t in texts for m in RECEIPT.finditer(t)]


# -- people on each channel --------------------------------------------------------------------------------
class RestUser:
    def __init__(self, client: httpx.AsyncClient, sender: str | None = None) -> None:
        self.client = client
        self.sender = sender or f"faults-{random.randrange(10**9)}"

    async def say(self, text: str) -> str:
        response = await self.client.post(
            "/webhooks/rest/webhook", json={"sender": self.sender, "message": text}, timeout=HANG
        )
        assert response.status_code == 200, response.text
        return "\n".join(str(m.get("text", "")) for m in response.json())

    async def walk(self, answers: list[str]) -> str:
        reply = ""
        for answer in answers:
            reply = await self.say(answer)
        return reply


class TelegramUser:
    """Posts what Telegram would post for this person's messages; reads what the bot sent them."""

    def __init__(self, client: httpx.AsyncClient, api: FakeTelegramAPI, inbox_waiting: Waiting) -> None:
        self.client, self.api, self.inbox_waiting = client, api, inbox_waiting
        self.chat_id = random.randint(1_000_000_000, 1_900_000_000)
        self.updates = Updates(first_update_id=random.randint(10**8, 9 * 10**8))

    def update(self, text: str) -> dict[str, Any]:
        return self.updates.text(self.chat_id, text)

    async def post(self, update: dict[str, Any]) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        response = await self.client.post("/webhooks/telegram/webhook", json=update, headers=headers)
        return response.status_code

    def received(self) -> list[str]:
        return self.api.sent_texts(self.chat_id)

    async def say(self, text: str) -> str:
        """Send one message, wait until the inbox is drained, return what the bot sent meanwhile."""
        before = len(self.received())
        status = await self.post(self.update(text))
        assert status == 200, status
        await until(self.drained, what="the inbox to drain")
        return "\n".join(self.received()[before:])

    async def drained(self) -> bool:
        return await self.inbox_waiting() == 0

    async def walk(self, answers: list[str]) -> str:
        reply = ""
        for answer in answers:
            reply = await self.say(answer)
        return reply


Waiting = Callable[[], Awaitable[int]]


class WhatsAppUser:
    def __init__(self, client: httpx.AsyncClient, api: FakeTwilioAPI, inbox_waiting: Waiting) -> None:
        self.client, self.api, self.inbox_waiting = client, api, inbox_waiting
        self.phone = f"+62813{random.randint(10_000_000, 99_999_999)}"

    @property
    def address(self) -> str:
        return f"whatsapp:{self.phone}"

    def form(self, text: str) -> dict[str, str]:
        return inbound_form(self.phone, text, profile_name="Budi Santoso")

    async def post(self, form: dict[str, str]) -> httpx.Response:
        path = "/webhooks/twilio/webhook"
        signature = sign(PUBLIC_URL + path, form)
        return await self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})

    def received(self) -> list[str]:
        return self.api.sent_bodies(self.address)

    async def say(self, text: str) -> str:
        before = len(self.received())
        response = await self.post(self.form(text))
        assert response.status_code == 200, response.text
        await until(lambda: self.inbox_waiting_zero(), what="the inbox to drain")
        return "\n".join(self.received()[before:])

    async def inbox_waiting_zero(self) -> bool:
        return await self.inbox_waiting() == 0
