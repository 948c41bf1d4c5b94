"""`jamsosbot rotate-key`: re-encrypt every sealed value under the newest key and recompute every blind
index with it.

The vault passed in holds the new key first and the old key(s) after. Tables are walked in id order, in
batches of one transaction each; a row whose blobs are all under the new key is skipped, so an interrupted
rotation simply runs again and continues (look-ups work throughout: they try every key's index). When the
walk finds nothing left under an old key, the old keys can be dropped.

Run it with the bot stopped: a process still holding only the old key would keep writing under it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.crypto import Vault
from storage.db import Database
from storage.models import Base, Conversation, Member, Registration, RegistrationDraft
from storage.repo.conversations import conversation_key
from storage.repo.members import open_identity
from storage.repo.staff import add_audit

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int], None]  # (table, rows done so far)


def _member_indexes(vault: Vault, row: Member) -> dict[str, bytes | None]:
    identity = open_identity(vault, row.identity_enc)
    return {
        "kpj_bidx": vault.blind_index("kpj", identity.kpj),
        "nik_bidx": vault.blind_index("nik", identity.nik),
    }


def _registration_indexes(vault: Vault, row: Registration) -> dict[str, bytes | None]:
    nik = vault.decrypt_text("nik", row.nik_enc)
    phone = vault.decrypt_text("phone", row.phone_enc)
    return {
        "nik_bidx": vault.blind_index("nik", nik) if nik else None,
        "phone_bidx": vault.blind_index("phone", phone) if phone else None,
    }


def _conversation_indexes(vault: Vault, row: Conversation) -> dict[str, bytes | None]:
    chat_id = vault.decrypt("chat_id", row.chat_id_enc).decode()
    phone = vault.decrypt_text("phone", row.phone_enc)
    return {
        "conversation_bidx": vault.blind_index("conversation", conversation_key(row.channel, chat_id)),
        "phone_bidx": vault.blind_index("phone", phone) if phone else None,
    }


@dataclass(frozen=True)
class _Sealed:
    model: type[Base]
    indexes: Callable[[Vault, object], dict[str, bytes | None]] | None

    @property
    def sealed_columns(self) -> list[str]:
        return [c.key for c in self.model.__table__.columns if c.key.endswith("_enc")]


# every table holding sealed values (a test checks no model with an *_enc column is missing here)
SEALED_TABLES = (
    _Sealed(Member, _member_indexes),  # type: ignore[arg-type]
    _Sealed(Registration, _registration_indexes),  # type: ignore[arg-type]
    _Sealed(Conversation, _conversation_indexes),  # type: ignore[arg-type]
    _Sealed(RegistrationDraft, None),
)


def _rotate_row(vault: Vault, spec: _Sealed, row: object) -> bool:
    blobs = {c: getattr(row, c) for c in spec.sealed_columns}
    if all(blob is None or vault.is_current(blob) for blob in blobs.values()):
        return False
    for column, blob in blobs.items():
        if blob is not None:
            setattr(row, column, vault.reencrypt(column.removesuffix("_enc"), blob))
    if spec.indexes is not None:
        for column, value in spec.indexes(vault, row).items():
            setattr(row, column, value)
    return True


def _rotate_table(db: Database, spec: _Sealed, batch: int, on_progress: ProgressCallback | None) -> int:
    model: Any = spec.model
    changed, after, seen = 0, 0, 0
    while True:
        with db.transaction() as session:
            rows = session.scalars(
                select(model).where(model.id > after).order_by(model.id).limit(batch)
            ).all()
            for row in rows:
                changed += _rotate_row(db.vault, spec, row)
        if not rows:
            return changed
        after, seen = rows[-1].id, seen + len(rows)
        if on_progress:
            on_progress(model.__tablename__, seen)


def rotate(
    db: Database, *, batch: int = 1000, actor: str = "cli", on_progress: ProgressCallback | None = None
) -> dict[str, int]:
    """Re-encrypt everything not yet under the vault's primary key; returns rows changed per table."""
    changed = {
        spec.model.__tablename__: _rotate_table(db, spec, batch, on_progress) for spec in SEALED_TABLES
    }
    log.info("key rotation: %s", ", ".join(f"{table} {n} rows re-encrypted" for table, n in changed.items()))
    with db.transaction() as session:
        add_audit(session, actor=actor, action="rotate_key", details=changed)
    return changed


def remaining_under_old_keys(session: Session, vault: Vault) -> int:
    """Sealed values not under the primary key (0 means the old keys can go)."""
    left = 0
    for spec in SEALED_TABLES:
        columns = [getattr(spec.model, c) for c in spec.sealed_columns]
        for values in session.execute(select(*columns).execution_options(yield_per=5000)):
            left += sum(1 for blob in values if blob is not None and not vault.is_current(blob))
    return left
