"""No personal value in clear: not in the SQLite file, not in a pg_dump, not in any log record."""

from __future__ import annotations

import csv
import logging
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.clock import WIB, FixedClock
from storage.crypto import Vault
from storage.db import Database, make_engine
from storage.membership.sql import SqlMembershipBackend
from storage.ops.import_members import import_members
from storage.ops.member_rows import COLUMNS
from storage.ops.payments import mark_paid
from storage.repo.consents import record_consent
from storage.repo.drafts import save_draft
from storage.repo.erase import erase_person
from storage.repo.events import append_event
from storage.repo.subscribers import opt_in
from tests.storage.factories import SITI_BIRTH, SITI_NIK, application, nik_for

CLOCK = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=WIB))
PHONE = "+6281234567890"
BUDI_BIRTH = date(1977, 8, 17)
BUDI_NIK = nik_for(BUDI_BIRTH, region="357801", serial=42)
SECRETS = [
    SITI_NIK,
    "Siti Rahmawati Kusumadewi",
    SITI_BIRTH.isoformat(),
    "05-06-1990",
    PHONE,
    "081234567890",
    "Melati Gang Kenanga",
    BUDI_NIK,
    "Budiman Sastrowardoyo",
    BUDI_BIRTH.isoformat(),
    "Jl. Cempaka Putih Raya",
    "81299887766",
    "siti.rahma@example.com",
]


def exercise(db: Database, tmp_path: Path) -> None:
    """Everything that stores or reads personal data, with known values."""
    ref = record_consent(
        db,
        channel="whatsapp",
        chat_id=PHONE,
        purpose="bpu_registration",
        text_version="v1",
        text="Setuju",
        phone=PHONE,
    )
    backend = SqlMembershipBackend(db, clock=CLOCK)
    receipt = backend.register(application(consent_id=ref), idempotency_key="wa:1")
    backend.register(application(consent_id=ref), idempotency_key="wa:1")
    assert backend.lookup(nik=SITI_NIK, birth_date=SITI_BIRTH) is not None
    assert backend.lookup(nik=SITI_NIK, birth_date=date(1990, 6, 6)) is None
    opt_in(db, channel="whatsapp", chat_id=PHONE, source="chat", phone=PHONE, region="Bogor")
    save_draft(
        db, channel="telegram", chat_id="9001", step="ask_birth", data={"nik": BUDI_NIK, "name": "Budiman"}
    )
    append_event(db, "registration_created", channel="whatsapp", chat_id=PHONE, data={"number": "BPU-x"})
    path = tmp_path / "members.csv"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        good = {
            "kpj": "22000000042",
            "nik": BUDI_NIK,
            "full_name": "Budiman Sastrowardoyo",
            "birth_date": BUDI_BIRTH.isoformat(),
            "status": "active",
            "programs": "jkk+jkm+jht",
            "phone": "0812-9988-7766",
            "address": "Jl. Cempaka Putih Raya 12",
        }
        writer.writerow(good)
        writer.writerow({**good, "kpj": "22000000043", "birth_date": "1977-08-18"})  # rejected: NIK says 17th
    import_members(db, path, today=date(2026, 3, 10))
    mark_paid(db, receipt.registration_number, 3, paid_on=date(2026, 3, 12))
    erase_person(db, nik="3201014506900099")  # nobody: still logs nothing personal


def assert_clean(blob: bytes, where: str) -> None:
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret!r} found in clear in {where}"


def test_sqlite_file_holds_no_personal_value(tmp_path: Path, sqlite_template: Path, vault: Vault) -> None:
    path = tmp_path / "jamsosbot.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(make_engine(f"sqlite:///{path}"), vault)
    exercise(db, tmp_path)
    db.dispose()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("jamsosbot.db")]  # with -wal and -shm
    blob = b"".join(p.read_bytes() for p in files)
    assert len(blob) > 50_000
    assert_clean(blob, "the SQLite file")


@pytest.mark.postgres
def test_pg_dump_holds_no_personal_value(pg_db: Database, pg_url: str, tmp_path: Path) -> None:
    exercise(pg_db, tmp_path)
    url = make_url(pg_url)
    dump = subprocess.run(
        [
            "pg_dump",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "root",
            url.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"COPY public.members" in dump and len(dump) > 10_000
    assert_clean(dump, "pg_dump")


def test_logs_hold_no_personal_value(
    storage_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        exercise(storage_db, tmp_path)
    assert caplog.records, "expected the import and the erasure to log something"
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert_clean(text.encode(), "the logs")
