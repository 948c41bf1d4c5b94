"""The real app (bot.app.create_app) with every channel on, for hostile-input and security tests.

One `LiveApp` holds a running app (starlette's TestClient, so the lifespan runs: the inbox, its workers and
the senders start as in production) on a SQLite file, with Telegram pointed at the local Bot API server and
WhatsApp at the local Twilio API server, the REST channel behind a bearer token, and one staff account of
each role. Helpers post to each channel the way its platform does (signed, with the secret), so hostile
bodies reach the parsers; `errors` collects every ERROR record logged meanwhile (a turn that raised).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.admin import staff as accounts
from bot.app import create_app
from bot.channels.telegram import SECRET_HEADER
from bot.settings import Settings
from bot.texts import text
from storage.crypto import generate_key
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, FakeTwilioAPI, sign

PUBLIC_URL = "https://bot.bpjs.example.id"
TELEGRAM_SECRET = "kkbc-" + "s3cr3t" * 4
REST_TOKEN = "rest-" + "t0ken" * 6
TELEGRAM_TOKEN = "7012345678:AAF" + "q3Xw9_Zk-Lm2Np" * 2 + "R7tYu"
TELEGRAM_PATH = "/webhooks/telegram/webhook"
TWILIO_PATH = "/webhooks/twilio/webhook"
REST_PATH = "/webhooks/rest/webhook"
STAFF_PASSWORD = "kerja-keras-bebas-cemas"
ROLES = ("admin", "broadcaster", "viewer")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class LiveApp:
    app: FastAPI
    client: TestClient
    settings: Settings
    telegram: FakeTelegramAPI
    twilio: FakeTwilioAPI
    log: _Collect = field(default_factory=_Collect)

    # -- channels, as their platforms call them ------------------------------------------------------
    def rest(self, sender: str, message: str, **kwargs: Any) -> httpx2.Response:
        return self.client.post(
            REST_PATH,
            json={"sender": sender, "message": message},
            headers={"Authorization": f"Bearer {REST_TOKEN}"},
            **kwargs,
        )

    def telegram_update(self, update: Any, *, secret: str | None = TELEGRAM_SECRET) -> httpx2.Response:
        body = json.dumps(update).encode() if not isinstance(update, bytes) else update
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        return self.client.post(TELEGRAM_PATH, content=body, headers=headers)

    def twilio_form(
        self,
        form: dict[str, str],
        *,
        path: str = TWILIO_PATH,
        signed_url: str | None = None,
        token: str = AUTH_TOKEN,
    ) -> httpx2.Response:
        """POST `form` as Twilio does, signed for `signed_url` (default: PUBLIC_URL + path, what Twilio
        calls) with `token` (default: the right Auth Token)."""
        signature = sign(signed_url or PUBLIC_URL + path, form, token)
        return self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})

    # -- the inbox and the logs -----------------------------------------------------------------------
    def drain(self) -> None:
        """Wait until the inbox workers answered everything submitted (a deadline for a hang only)."""
        import time

        deadline = time.monotonic() + 60
        while self.client.portal.call(self.app.state.inbox.waiting) > 0:  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                recent = [f"{r.name}: {r.getMessage()[:200]}" for r in self.log.records[-8:]]
                raise AssertionError(f"the inbox did not drain; last log records: {recent}")
            time.sleep(0.01)

    def failures(self) -> list[str]:
        """ERROR records logged so far (a turn or a send that raised), as text."""
        out = []
        for record in self.log.records:
            if record.levelno >= logging.ERROR:
                cause = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
                out.append(f"{record.getMessage()} {cause[-1500:]}")
        return out

    def token(self, role: str) -> str:
        """A fresh API token of the staff account named after `role` (the previous one stops working)."""
        return accounts.issue_token(self.app.state.runtime.db, actor="test", username=role)


TROUBLE = text("trouble")


def settings_for(tmp: Path, telegram: FakeTelegramAPI, twilio: FakeTwilioAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "JAMSOSBOT_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp / 'hostile.db'}",
        "DATA_KEY": generate_key(),
        "REDIS_URL": None,
        "PUBLIC_URL": PUBLIC_URL,
        "REST_CHANNEL_TOKEN": REST_TOKEN,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": BOT_NUMBER,
        "TWILIO_API_URL": twilio.base_url,
        "INBOX_WORKERS": 2,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@contextmanager
def live_app(tmp: Path, **overrides: Any) -> Iterator[LiveApp]:
    """Start the app with every channel on; staff accounts `admin`, `broadcaster`, `viewer`."""
    # a token of a real token's shape (the log redaction recognises those), so the logs can be searched for it
    with FakeTelegramAPI(TELEGRAM_TOKEN) as telegram, FakeTwilioAPI() as twilio:
        settings = settings_for(tmp, telegram, twilio, **overrides)
        app = create_app(settings)
        collect = _Collect()
        root = logging.getLogger()
        root.addHandler(collect)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                live = LiveApp(app, client, settings, telegram, twilio, collect)
                for role in ROLES:
                    accounts.add_staff(
                        app.state.runtime.db, actor="test", username=role, password=STAFF_PASSWORD, role=role
                    )
                yield live
        finally:
            root.removeHandler(collect)


_LOGIN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_client(live: LiveApp, role: str, password: str = STAFF_PASSWORD) -> TestClient:
    """A browser of its own (own cookies), signed in to the console as the account named `role`."""
    # https: PUBLIC_URL is https, so the console sets Secure cookies that plain http would not send back
    client = TestClient(live.app, base_url="https://testserver", follow_redirects=False)
    page = client.get("/admin/login")
    found = _LOGIN_FIELD.search(page.text)
    assert found, page.text[:300]
    response = client.post(
        "/admin/login",
        data={"username": role, "password": password, "csrf_token": found[1], "next": "/admin"},
    )
    assert response.status_code == 303, response.text[:300]
    return client


def random_sender() -> str:
    return "hostile-" + secrets.token_hex(6)
