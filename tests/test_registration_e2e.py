"""A BPU registration end to end, on the real app and the real databases: registered in the chat through
POST /webhooks/rest/webhook, stored with its consent and events, found by the status check as "menunggu
pembayaran", marked paid with the real `jamsosbot mark-paid` command (click's CliRunner, same database and
data key), and then shown as active.

Runs on the embedded default (SQLite, in-process sessions) and on production's PostgreSQL + Redis, each in a
database (and Redis key prefix) of its own. The clock is the real one, as for the CLI: amounts are checked
against flows.contribution for today rather than typed in.
"""

from __future__ import annotations

import os
import re
import secrets
from calendar import monthrange
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.cli import cli
from bot.clock import now_wib
from bot.settings import Settings
from flows.contribution import first_contribution_month, period_total
from flows.fmt import add_months
from storage.models import Consent, Event, Member, Registration
from tests.realdeps import postgres_database

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
NIK = "3201014506900003"  # a woman born 5 June 1990 (day 45 = 5 + 40), Jawa Barat
SENDER = "e2e-ibu-siti"
# Consent, name, NIK, birth date, phone, city, occupation (5 = Pedagang pasar), income, package (2 = with
# JHT), period (3 = 3 months), confirmation: answered the way people type, buttons by number.
ANSWERS = [
    "sy mau daftar bpjs tk",
    "1",
    "siti aminah",
    NIK,
    "5 juni 1990",
    "0812 3456 7890",
    "kab bogor",
    "5",
    "2,5 juta",
    "2",
    "3",
]


@contextmanager
def _postgres() -> Iterator[str]:
    """A database of this run's own at the current schema, dropped afterwards."""
    with postgres_database("jb_e2e") as url:
        yield url


@contextmanager
def _redis_prefix() -> Iterator[str]:
    """A key prefix of this run's own; only its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    prefix = f"jbe2e{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
        client.close()


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment both the app and the CLI read their settings from."""
    values = {"DATA_KEY_FILE": str(tmp_path / "data.key"), "JAMSOSBOT_ENV": "test"}
    if request.param == "sqlite":
        yield {**values, "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}", "REDIS_URL": ""}
        return
    with _postgres() as url, _redis_prefix() as prefix:
        yield {**values, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix}


def _settings(env: dict[str, str]) -> Settings:
    values: dict[str, Any] = {k: v for k, v in env.items() if v}
    values.setdefault("REDIS_URL", None)
    return Settings.model_validate(values)


def _say(client: TestClient, text: str) -> str:
    response = client.post("/webhooks/rest/webhook", json={"sender": SENDER, "message": text})
    assert response.status_code == 200, response.text
    return "\n".join(m.get("text", "") for m in response.json())


def _status(client: TestClient) -> str:
    _say(client, "cek status sy dong")
    _say(client, NIK)
    return _say(client, "05-06-1990")


def test_registration_status_and_mark_paid(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "DATA_KEY", "DATA_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)  # the CLI must see exactly this test's settings
    app = create_app(_settings(env))
    with TestClient(app) as client:
        for text in ANSWERS:
            reply = _say(client, text)
        assert "Cek lagi data Anda" in reply and "3201********0003" in reply
        receipt = _say(client, "ya")
        found = re.search(r"Nomor pendaftaran: (BPU-\d{4}-\d{6})", receipt)
        assert found, receipt
        number = found.group(1)

        # In the database: the registration, its consent, and the events of the funnel.
        db = client.app.state.runtime.db  # type: ignore[attr-defined]
        with db.session() as session:
            registration = session.scalars(select(Registration)).one()
            assert (registration.registration_number, registration.state) == (number, "awaiting_payment")
            assert registration.occupations == ["pedagang pasar"] and registration.payment_months == 3
            assert registration.programs == ["jkk", "jkm", "jht"]
            expected = period_total(
                2_500_000, ("jkk", "jkm", "jht"), ("pedagang pasar",), first_contribution_month(_today()), 3
            )
            assert registration.total_due == expected.total
            assert f"Bayar Rp{expected.total:,}".replace(",", ".") in receipt
            assert registration.nik_enc is not None and NIK.encode() not in registration.nik_enc
            consent = session.scalars(select(Consent).where(Consent.ref == registration.consent_ref)).one()
            assert consent.purpose == "bpu_registration" and consent.text_version
            events = {e.type: e.data for e in session.scalars(select(Event))}
            assert {"registration.started", "consent.given", "registration.submitted"} <= events.keys()
            assert events["registration.submitted"]["registration_number"] == number
            assert events["consent.given"]["consent_id"] == registration.consent_ref
            assert NIK not in str(events) and "Aminah" not in str(events)  # no personal value in the log

        status = _status(client)
        assert "Data ditemukan" in status and "Status: menunggu pembayaran" in status, status
        assert "S**i A****h" in status and NIK not in status

        result = CliRunner().invoke(cli, ["mark-paid", number, "--months", "3"], env=env)
        assert result.exit_code == 0, result.output
        assert f"{number}: awaiting_payment -> active" in result.output

        status = _status(client)
        assert "Status: aktif" in status, status
        assert "Perlindungan Anda aktif" in status and "Masa perlindungan:" in status
        with db.session() as session:
            assert session.scalars(select(Registration.state)).one() == "active"
            member = session.scalars(select(Member)).one()
            assert member.status == "active" and member.protected_until is not None
            # The three months paid are the ones the chat priced: from the first contribution month (this
            # month up to the 15th, else the next one) to the end of the third.
            last = add_months(first_contribution_month(_today()), 2)
            assert member.protected_until == date(last.year, last.month, monthrange(last.year, last.month)[1])


def _today() -> date:
    return now_wib().date()
