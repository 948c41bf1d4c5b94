"""The console and admin API under test: the real app (create_app) on a SQLite file, staff accounts of each
role, and signed-in clients.

One app per module (building it and hashing passwords with argon2 is what costs time); tests that change
accounts use their own usernames so they do not disturb the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from bot.admin import staff as accounts
from bot.app import create_app
from bot.clock import WIB, FixedClock
from bot.settings import Settings
from storage.db import Database
from storage.repo import staff as repo_staff
from tests.admin.live import serve_app

PASSWORD = "kerja-keras-bebas-cemas"
ROLES = ("admin", "broadcaster", "viewer")
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_LOGIN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session", autouse=True)
def light_argon2() -> Iterator[None]:
    """Still argon2id, with light parameters: the default costs ~0.7 s a hash on the shared test machine,
    and these tests hash and verify hundreds of times. (Hashes record their parameters, so verification
    follows whatever a hash was made with.)"""
    original = repo_staff._hasher
    repo_staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    repo_staff._hasher = original


@pytest.fixture(scope="session")
def nlu_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-cache")


def admin_settings(tmp: Path, nlu_cache: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": f"sqlite:///{tmp / 'admin.db'}",
        "DATA_KEY_FILE": tmp / "data.key",
        "NLU_CACHE_DIR": nlu_cache,
        "REDIS_URL": None,
        "TELEGRAM_BOT_TOKEN": None,
        "TWILIO_ACCOUNT_SID": None,
        "PUBLIC_URL": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Console:
    """A running app plus helpers to sign in."""

    app: FastAPI
    base_url: str
    clock: FixedClock
    # one connection pool for every client (closed at the end): a client of its own would build an SSL
    # context (~0.1 s on the shared machine) that plain http to 127.0.0.1 never uses; cookies stay per client
    transport: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)

    @property
    def db(self) -> Database:
        db: Database = self.app.state.runtime.db
        return db

    def anonymous(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, follow_redirects=False, timeout=30, transport=self.transport
        )

    def login(self, username: str, password: str = PASSWORD) -> SignedIn:
        client = self.anonymous()
        page = client.get("/admin/login")
        token = _LOGIN_FIELD.search(page.text)
        assert token, page.text
        response = client.post(
            "/admin/login",
            data={"username": username, "password": password, "csrf_token": token[1], "next": "/admin"},
        )
        assert response.status_code == 303, response.text
        home = client.get("/admin")
        assert home.status_code == 200
        csrf = _CSRF_META.search(home.text)
        assert csrf and csrf[1]
        return SignedIn(client, csrf[1], username)


@dataclass
class SignedIn:
    client: httpx.Client
    csrf: str
    username: str

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(path, data=form)

    def api(self, method: str, path: str, json: object = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.request(method, "/admin/api/v1" + path, json=json, headers=headers)


def start_console(tmp: Path, nlu_cache: Path, **overrides: object) -> Iterator[Console]:
    settings = admin_settings(tmp, nlu_cache, **overrides)
    clock = FixedClock(datetime(2026, 11, 21, 9, 0, tzinfo=WIB))
    app = create_app(settings, clock=clock)
    with serve_app(app) as base_url:
        console = Console(app, base_url, clock)
        for role in ROLES:
            accounts.add_staff(console.db, actor="test", username=role, password=PASSWORD, role=role)
        try:
            yield console
        finally:
            console.transport.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, nlu_cache: Path) -> Iterator[Console]:
    yield from start_console(tmp_path_factory.mktemp("console"), nlu_cache)


@pytest.fixture(scope="module")
def signed_in(console: Console) -> dict[str, SignedIn]:
    return {role: console.login(role) for role in ROLES}
