"""Key rotation: everything re-encrypted under the new key, blind indexes recomputed, safe to resume."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import cli
from storage.crypto import Vault, parse_keys
from storage.db import Database
from storage.membership.sql import SqlMembershipBackend
from storage.models import Base, Conversation
from storage.ops.fake_members import write_members_csv
from storage.ops.import_members import import_members
from storage.ops.rotation import SEALED_TABLES, remaining_under_old_keys, rotate
from storage.repo.consents import record_consent
from storage.repo.conversations import find_conversation
from storage.repo.drafts import load_draft, save_draft
from storage.repo.subscribers import opt_in, recipients
from tests.storage.factories import SITI_BIRTH, SITI_NIK, application

TODAY = date(2026, 3, 10)


def fill(db: Database, tmp_path: Path) -> None:
    ref = record_consent(
        db,
        channel="whatsapp",
        chat_id="+6281299990000",
        purpose="bpu_registration",
        text_version="v1",
        text="ok",
    )
    SqlMembershipBackend(db).register(application(consent_id=ref), idempotency_key="k")
    opt_in(db, channel="whatsapp", chat_id="+6281299990000", source="chat", phone="+6281299990000")
    save_draft(db, channel="telegram", chat_id="55", step="ask_nik", data={"nik": SITI_NIK})
    write_members_csv(tmp_path / "m.csv", 30, today=TODAY)
    import_members(db, tmp_path / "m.csv", today=TODAY)


def test_every_model_with_sealed_columns_is_rotated() -> None:
    sealed = {
        m.class_.__tablename__
        for m in Base.registry.mappers
        if any(c.key.endswith("_enc") for c in m.columns)
    }
    assert sealed == {spec.model.__table__.name for spec in SEALED_TABLES}


def test_rotation_reencrypts_everything_and_the_old_key_can_go(storage_db: Database, tmp_path: Path) -> None:
    fill(storage_db, tmp_path)
    old = storage_db.vault
    new = Vault([parse_keys(_b64())[0], *old.master_keys()])
    ring = Database(storage_db.engine, new)
    with ring.session() as s:
        assert remaining_under_old_keys(s, new) > 0
    changed = rotate(ring)
    assert changed["members"] == 31 and changed["registrations"] == 1 and changed["conversations"] == 2
    with ring.session() as s:
        assert remaining_under_old_keys(s, new) == 0

    only_new = Database(storage_db.engine, new.primary_only())
    backend = SqlMembershipBackend(only_new)
    assert backend.lookup(nik=SITI_NIK, birth_date=SITI_BIRTH) is not None  # NIK index recomputed
    assert [r.chat_id for r in recipients(only_new)] == ["+6281299990000"]
    assert load_draft(only_new, channel="telegram", chat_id="55") is not None
    with only_new.session() as s:
        assert find_conversation(s, only_new.vault, "telegram", "55") is not None
    assert rotate(ring)["members"] == 0  # nothing left: a second run changes nothing


def test_an_interrupted_rotation_continues(storage_db: Database, tmp_path: Path) -> None:
    fill(storage_db, tmp_path)
    new = Vault([parse_keys(_b64())[0], *storage_db.vault.master_keys()])
    ring = Database(storage_db.engine, new)
    with ring.transaction() as s:  # "crash" after re-encrypting one conversation only
        conv = s.scalars(select(Conversation).order_by(Conversation.id)).first()
        assert conv is not None
        conv.chat_id_enc = new.reencrypt("chat_id", conv.chat_id_enc)
    changed = rotate(ring, batch=7)
    assert changed["conversations"] == 2  # the half-done row still had its phone and index to redo
    with ring.session() as s:
        assert remaining_under_old_keys(s, new) == 0


def test_rotate_key_command_with_a_key_file(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'jb.db'}", "DATA_KEY_FILE": str(tmp_path / "data.key")}
    runner = CliRunner()
    result = runner.invoke(cli, ["demo-data", "--count", "20", "--seed", "1"], env=env)
    assert result.exit_code == 0, result.output
    before = (tmp_path / "data.key").read_text()
    result = runner.invoke(cli, ["rotate-key", "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "members 20" in result.output and "old key is retired" in result.output
    after = parse_keys((tmp_path / "data.key").read_text())
    assert len(after) == 1 and after != parse_keys(before)


def test_rotate_key_with_a_single_data_key_explains_what_to_do(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'jb.db'}", "DATA_KEY": _b64()}
    result = CliRunner().invoke(cli, ["rotate-key", "--yes"], env=env)
    assert result.exit_code != 0 and "DATA_KEY=" in result.output


def _b64() -> str:
    import base64

    return base64.b64encode(os.urandom(32)).decode()
