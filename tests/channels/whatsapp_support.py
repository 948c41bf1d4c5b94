"""Helpers for the WhatsApp tests: a guard against the real Twilio, settings pointing at the local Twilio
API server, a migrated SQLite database, and posting signed webhooks to an app in-process."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.channels import whatsapp
from bot.inbox import Inbox
from bot.settings import Settings, load_settings
from storage.crypto import Vault
from storage.db import Database, make_engine
from storage.schema import upgrade
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, FakeTwilioAPI, sign

BASE = "http://testserver"
FORBIDDEN_SUFFIX = "twilio.com"


class RealTwilioCalled(RuntimeError):
    """A test tried to reach the real Twilio."""


def forbid_real_twilio(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every name lookup of a twilio.com host raise; returns the list of attempts, which the caller
    asserts empty at teardown (the code under test might swallow the error)."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name == FORBIDDEN_SUFFIX or name.endswith("." + FORBIDDEN_SUFFIX):
            attempts.append(name)
            raise RealTwilioCalled(f"test tried to reach {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return attempts


def whatsapp_settings(api: FakeTwilioAPI | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_whatsapp_from": BOT_NUMBER,
        "twilio_api_url": api.base_url if api is not None else "http://127.0.0.1:9",
        "telegram_bot_token": None,
        "redis_url": None,
    }
    values.update(overrides)
    return load_settings(**values)


_TEMPLATE: dict[str, Path] = {}


def migrated_sqlite(tmp_path: Path) -> Database:
    """A SQLite database at the current schema (migrated once per session, then copied)."""
    template = _TEMPLATE.get("db")
    if template is None or not template.exists():
        template = tmp_path.parent / "whatsapp-template.db"
        if not template.exists():
            upgrade(f"sqlite:///{template}")
        _TEMPLATE["db"] = template
    path = tmp_path / "jamsosbot.db"
    shutil.copyfile(template, path)
    return Database(make_engine(f"sqlite:///{path}"), Vault([b"k" * 32]))


def fixed_clock(at: datetime | None = None) -> Callable[[], datetime]:
    moment = at or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return lambda: moment


def webhook_app(settings: Settings, db: Database, inbox: Inbox, clock: Callable[[], datetime]) -> FastAPI:
    """An app with only the WhatsApp routes, and the runtime pieces they use (settings, db, clock)."""
    app = FastAPI()
    app.include_router(whatsapp.router)
    app.state.runtime = SimpleNamespace(settings=settings, db=db, clock=clock)
    app.state.inbox = inbox
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def post_signed(
    client: httpx.AsyncClient,
    path: str,
    form: dict[str, str],
    *,
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `form` to `path` as Twilio does, signed for `signed_url` (default: the URL requested)."""
    url = f"{BASE}{path}"
    signature = sign(signed_url or url, form, token)
    return await client.post(path, data=form, headers={"X-Twilio-Signature": signature, **(headers or {})})
