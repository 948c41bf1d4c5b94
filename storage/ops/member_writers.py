"""Writing batches of sealed member rows: PostgreSQL through binary COPY, SQLite through executemany.

Both upsert on the KPJ blind index (a re-import updates, never duplicates) and report the rows whose KPJ
this same import run already wrote (a duplicate inside the file: rejected, not applied).

Each batch is one transaction: an interrupted import leaves whole batches, and running it again finishes
the job (idempotent).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from psycopg.errors import UniqueViolation
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.db import Database
from storage.models import Member, utcnow
from storage.ops.member_rows import SEALED_COLUMNS, SealedRow

Batch = Sequence[tuple[int, SealedRow]]  # (row number in the file, sealed values)
_JSON_COLUMNS = {"programs", "occupations"}
_KPJ_INDEX = SEALED_COLUMNS.index("kpj_bidx")
_STAGE_TYPES = {
    "status": "text",
    "registration_channel": "text",
    "programs": "text",
    "occupations": "text",
    "protected_from": "date",
    "protected_until": "date",
    "next_due_date": "date",
}


class MemberWriter(Protocol):
    def write(self, batch: Batch) -> list[int]:
        """Upsert the batch; return the row numbers rejected as duplicates within this run."""
        ...

    def close(self) -> None: ...


def writer_for(db: Database, run_id: int) -> MemberWriter:
    if db.dialect == "postgresql":
        return PostgresCopyWriter(db, run_id)
    return SqlWriter(db, run_id)


class PostgresCopyWriter:
    """Binary COPY straight into `members` for KPJs not stored yet (the fast path of a first import), and
    COPY into a temporary staging table + one UPDATE ... FROM for KPJs already there (a re-import).

    A batch whose direct COPY collides with a row written meanwhile by another process is retried through
    the staging table with INSERT ... ON CONFLICT, which is always correct, only slower."""

    def __init__(self, db: Database, run_id: int) -> None:
        self.run_id = run_id
        self._fairy = db.engine.raw_connection()
        self.conn: Any = self._fairy.driver_connection  # psycopg.Connection: COPY is driver-specific
        assert self.conn is not None
        stage_types = [_STAGE_TYPES.get(c, "bytea") for c in SEALED_COLUMNS]
        self._stage_types = ["int8", *stage_types]
        self._member_types = [*stage_types, "int4", "timestamptz", "timestamptz"]
        columns = ", ".join(f"{c} {t}" for c, t in zip(SEALED_COLUMNS, stage_types, strict=True))
        with self.conn.cursor() as cur:
            # an import may lose its last batch in a crash and be run again: no need to wait for the disk
            cur.execute("SET synchronous_commit = off")
            cur.execute(f"CREATE TEMP TABLE member_stage (row_no int8, {columns}) ON COMMIT DELETE ROWS")
        self.conn.commit()
        names = ", ".join(SEALED_COLUMNS)
        self._copy_members = (
            f"COPY members ({names}, import_run_id, created_at, updated_at) FROM STDIN (FORMAT BINARY)"
        )
        self._copy_stage = f"COPY member_stage (row_no, {names}) FROM STDIN (FORMAT BINARY)"
        cast = {c: f"s.{c}::json" if c in _JSON_COLUMNS else f"s.{c}" for c in SEALED_COLUMNS}
        assignments = ", ".join(f"{c} = {cast[c]}" for c in SEALED_COLUMNS if c != "kpj_bidx")
        self._update = (
            f"UPDATE members m SET {assignments}, import_run_id = %(run)s, updated_at = %(now)s "
            "FROM member_stage s WHERE m.kpj_bidx = s.kpj_bidx"
        )
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SEALED_COLUMNS if c != "kpj_bidx")
        self._upsert = (
            f"INSERT INTO members ({names}, import_run_id, created_at, updated_at) "
            f"SELECT {', '.join(cast[c] for c in SEALED_COLUMNS)}, %(run)s, %(now)s, %(now)s "
            f"FROM member_stage s ON CONFLICT (kpj_bidx) DO UPDATE SET {updates}, "
            "import_run_id = EXCLUDED.import_run_id, updated_at = EXCLUDED.updated_at"
        )

    def write(self, batch: Batch) -> list[int]:
        try:
            return self._write(batch, direct=True)
        except UniqueViolation:
            self.conn.rollback()
            return self._write(batch, direct=False)

    def _write(self, batch: Batch, *, direct: bool) -> list[int]:
        now = utcnow()
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT kpj_bidx, import_run_id FROM members WHERE kpj_bidx = ANY(%s)",
                ([kpj_index(values) for _, values in batch],),
            )
            stored = {bytes(index): run for index, run in cur.fetchall()}
            rows = [(row_no, values, kpj_index(values)) for row_no, values in batch]
            duplicates = sorted(n for n, _, k in rows if stored.get(k) == self.run_id)
            pending = [(n, v, k) for n, v, k in rows if stored.get(k) != self.run_id]
            if direct:
                fresh = [v for _, v, k in pending if k not in stored]
                again = [(n, v) for n, v, k in pending if k in stored]
            else:
                fresh, again = [], [(n, v) for n, v, _ in pending]
            if fresh:
                with cur.copy(self._copy_members) as copy:
                    copy.set_types(self._member_types)
                    for values in fresh:
                        copy.write_row((*values, self.run_id, now, now))
            if again:
                with cur.copy(self._copy_stage) as copy:
                    copy.set_types(self._stage_types)
                    for row_no, values in again:
                        copy.write_row((row_no, *values))
                cur.execute(self._update if direct else self._upsert, {"run": self.run_id, "now": now})
        self.conn.commit()  # ON COMMIT DELETE ROWS empties the stage for the next batch
        return duplicates

    def close(self) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS member_stage")
            self.conn.commit()
        finally:
            self._fairy.close()


class SqlWriter:
    """Portable path (SQLite): executemany of an upsert, in one transaction per batch."""

    def __init__(self, db: Database, run_id: int) -> None:
        self.db = db
        self.run_id = run_id
        stmt = sqlite_insert(Member)
        updated = [c for c in (*SEALED_COLUMNS, "import_run_id", "updated_at") if c != "kpj_bidx"]
        self._upsert = stmt.on_conflict_do_update(
            index_elements=[Member.kpj_bidx], set_={c: stmt.excluded[c] for c in updated}
        )

    def write(self, batch: Batch) -> list[int]:
        by_index = {kpj_index(values): row_no for row_no, values in batch}
        now = utcnow()
        with self.db.transaction() as session:
            seen: set[bytes] = set()
            keys = list(by_index)
            for start in range(0, len(keys), 500):  # SQLite caps bound parameters per statement
                chunk = keys[start : start + 500]
                query = select(Member.kpj_bidx).where(
                    Member.kpj_bidx.in_(chunk), Member.import_run_id == self.run_id
                )
                seen.update(session.scalars(query))
            rows = [
                _as_params(values) | {"import_run_id": self.run_id, "created_at": now, "updated_at": now}
                for _row_no, values in batch
                if kpj_index(values) not in seen
            ]
            if rows:
                session.execute(self._upsert, rows)
        return sorted(by_index[k] for k in seen)

    def close(self) -> None:
        pass


def kpj_index(values: SealedRow) -> bytes:
    index = values[_KPJ_INDEX]
    assert isinstance(index, bytes)
    return index


def _as_params(values: SealedRow) -> dict[str, object]:
    params = dict(zip(SEALED_COLUMNS, values, strict=True))
    for name in _JSON_COLUMNS:  # the JSON type serializes on its own: give it the list back
        params[name] = json.loads(str(params[name]))
    return params
