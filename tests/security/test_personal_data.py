"""No personal value and no secret where it does not belong, after real conversations on every channel.

A registration and a status check (plus a status check with a wrong NIK) are held through the REST channel,
Telegram (local Bot API server) and WhatsApp (local Twilio API server) on the real app, once on the embedded
default (SQLite, in-process) and once on PostgreSQL + Redis. Then:
- every log record of the whole run (root at DEBUG) is searched for each NIK, name, birth date (as typed and
  ISO), phone (as typed and E.164), profile name, and every secret (bot token, webhook secret, Twilio Auth
  Token, REST token, data key, staff token);
- what the bot said, and every error body, never shows a NIK in full, and a wrong NIK is never echoed;
- the SQLite file (with its WAL), or a pg_dump, and every raw Redis value under the app's prefix hold none
  of the personal values in clear.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from bot.admin.api import PREFIX
from storage.schema import upgrade
from tests.fakes.twilio_api import AUTH_TOKEN, inbound_form
from tests.hostile.app_support import (
    REST_TOKEN,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    LiveApp,
    live_app,
    random_sender,
)
from tests.security.conftest import REDIS_URL
from tests.storage.factories import nik_for

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Person:
    nik: str
    name: str
    born: date
    phone_local: str  # as typed
    profile: str  # the channel's display name

    @property
    def phone_e164(self) -> str:
        return "+62" + re.sub(r"\D", "", self.phone_local)[1:]

    def answers(self) -> list[str]:
        month = ["", "januari", "februari", "maret", "april", "mei", "juni", "juli"][self.born.month]
        born = f"{self.born.day} {month} {self.born.year}"
        return [
            "sy mau daftar bpjs tk",
            "1",
            self.name,
            self.nik,
            born,
            self.phone_local,
            "kab bogor",
            "5",
            "2,5 juta",
            "2",
            "3",
            "ya",
        ]

    def values(self) -> list[str]:
        digits = re.sub(r"\D", "", self.phone_local)
        return [
            self.nik,
            self.name,
            self.name.lower(),
            self.profile,
            self.born.isoformat(),
            self.born.strftime("%d-%m-%Y"),
            self.phone_e164,
            digits,
            self.phone_e164[1:],
        ]


def _person(month: int, name: str, profile: str) -> Person:
    born = date(1980 + month, month, 10 + month)
    phone = f"0812 {secrets.randbelow(9000) + 1000} {secrets.randbelow(9000) + 1000}"
    return Person(
        nik_for(born, female=True, serial=secrets.randbelow(9000) + 1000), name, born, phone, profile
    )


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql+redis", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveApp, str, str | None]]:
    """The app on SQLite and in-process stores, or on a PostgreSQL database and a Redis prefix of its own;
    yields (app, database url, redis prefix)."""
    if request.param == "sqlite":
        with live_app(tmp_path) as live:
            yield live, str(live.settings.database_url), None
        return
    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (psycopg.OperationalError, redis.RedisError) as exc:
        pytest.skip(f"PostgreSQL or Redis not reachable: {exc}")
    name = f"jb_sec_{secrets.token_hex(5)}"
    prefix = f"jbsecpd{secrets.token_hex(4)}:"
    admin.execute(f'CREATE DATABASE "{name}"')
    client = redis.Redis.from_url(REDIS_URL)
    try:
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        with live_app(tmp_path, DATABASE_URL=url, REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix) as live:
            yield live, url, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _rest(live: LiveApp, person: Person) -> list[str]:
    sender, said = random_sender(), []
    for text in [*person.answers(), "cek status", person.nik, person.born.strftime("%d-%m-%Y")]:
        response = live.rest(sender, text)
        assert response.status_code == 200
        said += [r["text"] for r in response.json()]
    assert any("BPU-" in s for s in said), said
    return said


def _telegram(live: LiveApp, person: Person) -> list[str]:
    chat_id = secrets.randbelow(10**9) + 10**9
    for n, text in enumerate([*person.answers(), "cek status", person.nik, person.born.strftime("%d-%m-%Y")]):
        update = {
            "update_id": secrets.randbelow(10**9) + 10**9,
            "message": {
                "message_id": n + 1,
                "from": {"id": chat_id, "is_bot": False, "first_name": person.profile},
                "chat": {"id": chat_id, "type": "private", "first_name": person.profile},
                "date": 1_790_000_000,
                "text": text,
            },
        }
        assert live.telegram_update(update).status_code == 200
        live.drain()
    said = [str(p.get("text", "")) for p in live.telegram.sent(chat_id)]
    assert any("BPU-" in s for s in said), said
    return said


def _whatsapp(live: LiveApp, person: Person) -> list[str]:
    for text in [*person.answers(), "cek status", person.nik, person.born.strftime("%d-%m-%Y")]:
        form = inbound_form(person.phone_e164, text, profile_name=person.profile)
        assert live.twilio_form(form).status_code == 200
        live.drain()
    said = live.twilio.sent_bodies(f"whatsapp:{person.phone_e164}")
    assert any("BPU-" in s for s in said), said
    return said


def _wrong_nik(live: LiveApp) -> tuple[str, list[str]]:
    wrong = nik_for(date(1979, 2, 3), serial=secrets.randbelow(9000) + 1000)
    sender, said = random_sender(), []
    for text in ("cek status", wrong, "03-02-1979", "cek status", wrong[:-1], wrong + "9"):
        said += [r["text"] for r in live.rest(sender, text).json()]
    too_long = live.rest(sender, wrong * 2000)  # refused by size: the 422 must not echo it
    assert too_long.status_code == 422
    said.append(too_long.text)
    return wrong, said


def _redis_dump(prefix: str) -> tuple[str, str]:
    """(every key name, every raw value) under `prefix`, as text."""
    client = redis.Redis.from_url(REDIS_URL)
    keys, values = [], bytearray()
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            keys.append(key.decode("latin-1"))
            kind = client.type(key)
            if kind == b"string":
                values += client.get(key) or b""
            elif kind == b"list":
                values += b"\n".join(client.lrange(key, 0, -1))
            elif kind == b"hash":
                values += b"\n".join(k + b"=" + v for k, v in client.hgetall(key).items())
            elif kind == b"zset":
                values += b"\n".join(client.zrange(key, 0, -1))
            elif kind == b"set":
                values += b"\n".join(client.smembers(key))
            values += b"\n"
    finally:
        client.close()
    return "\n".join(keys), values.decode("latin-1")


def _database_bytes(live: LiveApp, url: str) -> bytes:
    if url.startswith("sqlite"):
        live.app.state.runtime.db.dispose()  # let SQLite write everything it holds
        path = Path(make_url(url).database or "")
        return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    parsed = make_url(url)
    command = ["pg_dump", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    command += ["-U", parsed.username or "root", parsed.database or ""]
    return subprocess.run(command, capture_output=True, check=True, timeout=120).stdout


def _absent(values: list[str], blob: str, where: str) -> None:
    found = [(v, blob[max(0, blob.index(v) - 300) : blob.index(v) + 100]) for v in values if v and v in blob]
    assert not found, f"found in {where}: {found}"


def test_personal_data_and_secrets_stay_out_of_logs_replies_database_and_redis(
    stack: tuple[LiveApp, str, str | None],
) -> None:
    live, url, prefix = stack
    people = {
        "rest": _person(1, "Kartini Wulandari", "Kartiniprofil"),
        "telegram": _person(2, "Sulastri Handayani", "Sulastriprofil"),
        "whatsapp": _person(3, "Maryati Susilowati", "Maryatiprofil"),
    }
    staff_token = live.token("admin")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        said = {
            "rest": _rest(live, people["rest"]),
            "telegram": _telegram(live, people["telegram"]),
            "whatsapp": _whatsapp(live, people["whatsapp"]),
        }
        wrong, wrong_said = _wrong_nik(live)
        assert (
            live.client.get(PREFIX + "/me", headers={"Authorization": f"Bearer {staff_token}"}).status_code
            == 200
        )
    finally:
        root.setLevel(level)

    personal = [v for p in people.values() for v in p.values()] + [wrong]
    secrets_ = [
        TELEGRAM_TOKEN,
        TELEGRAM_TOKEN.split(":")[1],
        TELEGRAM_SECRET,
        AUTH_TOKEN,
        REST_TOKEN,
        staff_token,
    ]
    secrets_.append(live.settings.data_key.get_secret_value() if live.settings.data_key else "")

    # logs: every record of the run, message and traceback
    records = live.log.records
    assert len(records) > 20, "expected the run to log"
    text = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in records
    )
    _absent(personal + secrets_, text, "the logs")

    # replies: a NIK is only ever shown masked, and a wrong NIK never comes back in any form
    for channel, lines in said.items():
        _absent([people[channel].nik, wrong], "\n".join(lines), f"the {channel} replies")
        assert any(people[channel].nik[:4] + "********" + people[channel].nik[-4:] in line for line in lines)
    _absent([wrong, wrong[:-1], wrong + "9"], "\n".join(wrong_said), "the replies to a wrong NIK")

    # at rest: the database and the raw Redis values
    blob = _database_bytes(live, url)
    assert len(blob) > 10_000
    _absent(personal, blob.decode("latin-1"), "the database")
    if prefix is not None:
        keys, values = _redis_dump(prefix)
        assert len(values) > 100, "expected sessions and inbox entries in Redis"
        _absent(personal + secrets_, values, "the Redis values")
        # key names too: a WhatsApp chat id is the phone number, so session, lock and inbox keys name the
        # conversation by a keyed hash
        _absent([v for p in people.values() for v in p.values()], keys, "the Redis key names")
