"""Writing batches of sealed member rows: PostgreSQL through binary COPY, SQLite through executemany.

Both upsert on the KPJ blind index (a re-import updates, never duplicates) and report the rows whose KPJ
this same import run already wrote (a duplicate inside the file: rejected, not applied). A batch is a list
of storage.ops.member_codec.RowBlock with no KPJ twice: `Batches` cuts the checked blocks into batches and
drops in-batch repeats.

Each batch is one transaction: an interrupted import leaves whole batches, and running it again finishes
the job (idempotent).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from psycopg.errors import UniqueViolation
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.db import Database
from storage.models import Member
from storage.ops.member_codec import (
    COPY_COLUMNS,
    COPY_SIGNATURE,
    COPY_TRAILER,
    COPY_TYPES,
    JSON_COLUMNS,
    RowBlock,
    decode_row,
)

Batch = Sequence[RowBlock]


class MemberWriter(Protocol):
    def write(self, batch: Batch) -> list[int]:
        """Upsert the batch; return the row numbers rejected as duplicates within this run."""
        ...

    def close(self) -> None: ...


class Batches:
    """Cuts blocks of rows into batches of `size` rows, keeping the first row of a KPJ repeated within a
    batch (the writers find repeats across batches)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._blocks: list[RowBlock] = []
        self._count = 0
        self._seen: set[bytes] = set()
        self._duplicates: list[int] = []

    def take_duplicates(self) -> list[int]:
        """The rows left out as repeats since the last call."""
        found, self._duplicates = self._duplicates, []
        return found

    def add(self, block: RowBlock) -> Iterator[list[RowBlock]]:
        while len(block):
            room = self.size - self._count
            head, block = block.split(min(room, len(block)))
            self._keep(head)
            if self._count >= self.size:
                yield self.rest()

    def _keep(self, block: RowBlock) -> None:
        keys = [block.kpj_index(i) for i in range(len(block))]
        seen = self._seen
        if len(set(keys)) == len(keys) and seen.isdisjoint(keys):  # the usual case: no repeat
            seen.update(keys)
        else:
            keep = []
            for i, key in enumerate(keys):
                if key in seen:
                    self._duplicates.append(block.row_nos[i])
                else:
                    seen.add(key)
                    keep.append(i)
            block = block.take(keep)
        self._blocks.append(block)
        self._count += len(block)

    def rest(self) -> list[RowBlock]:
        """The rows gathered so far (a batch, maybe short), and start the next batch."""
        batch, self._blocks, self._count, self._seen = self._blocks, [], 0, set()
        return [b for b in batch if len(b)]


def writer_for(db: Database, run_id: int) -> MemberWriter:
    if db.dialect == "postgresql":
        return PostgresCopyWriter(db, run_id)
    return SqlWriter(db, run_id)


class PostgresCopyWriter:
    """Binary COPY straight into `members` for KPJs not stored yet (the fast path of a first import), and
    COPY into a temporary staging table + one UPDATE ... FROM for KPJs already there (a re-import).

    While batches hold only new KPJs, a batch is copied without looking first: the unique index on the KPJ
    refuses a stored one, and that batch is then done the careful way (look up its KPJs, copy the new ones,
    update the stored ones, report this run's own as duplicates), as are the following batches until one
    holds no stored KPJ again. A batch whose careful COPY collides with a row written meanwhile by another
    process is retried through the staging table with INSERT ... ON CONFLICT: always correct, only slower."""

    def __init__(self, db: Database, run_id: int) -> None:
        self.run_id = run_id
        self._fairy = db.engine.raw_connection()
        self.conn: Any = self._fairy.driver_connection  # psycopg.Connection: COPY is driver-specific
        assert self.conn is not None
        self._look_first = False
        columns = ", ".join(f"{c} {COPY_TYPES[c]}" for c in COPY_COLUMNS)
        with self.conn.cursor() as cur:
            # an import may lose its last batch in a crash and be run again: no need to wait for the disk
            cur.execute("SET synchronous_commit = off")
            cur.execute(f"CREATE TEMP TABLE member_stage ({columns}) ON COMMIT DELETE ROWS")
        self.conn.commit()
        names = ", ".join(COPY_COLUMNS)
        self._copy_members = f"COPY members ({names}) FROM STDIN (FORMAT BINARY)"
        self._copy_stage = f"COPY member_stage ({names}) FROM STDIN (FORMAT BINARY)"
        cast = {c: f"s.{c}::json" if c in JSON_COLUMNS else f"s.{c}" for c in COPY_COLUMNS}
        kept = ("kpj_bidx", "created_at")
        assignments = ", ".join(f"{c} = {cast[c]}" for c in COPY_COLUMNS if c not in kept)
        self._update = f"UPDATE members m SET {assignments} FROM member_stage s WHERE m.kpj_bidx = s.kpj_bidx"
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COPY_COLUMNS if c not in kept)
        self._upsert = (
            f"INSERT INTO members ({names}) SELECT {', '.join(cast[c] for c in COPY_COLUMNS)} "
            f"FROM member_stage s ON CONFLICT (kpj_bidx) DO UPDATE SET {updates}"
        )

    def write(self, batch: Batch) -> list[int]:
        if not self._look_first:
            try:
                with self.conn.cursor() as cur:
                    self._copy(cur, self._copy_members, batch)
                self.conn.commit()
                return []
            except UniqueViolation:
                self.conn.rollback()
        try:
            return self._write(batch, direct=True)
        except UniqueViolation:
            self.conn.rollback()
            return self._write(batch, direct=False)

    def _write(self, batch: Batch, *, direct: bool) -> list[int]:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT kpj_bidx, import_run_id FROM members WHERE kpj_bidx = ANY(%s)",
                ([block.kpj_index(i) for block in batch for i in range(len(block))],),
            )
            stored = {bytes(index): run for index, run in cur.fetchall()}
            self._look_first = bool(stored)
            duplicates: list[int] = []
            fresh: list[RowBlock] = []
            again: list[RowBlock] = []
            for block in batch:
                kinds: dict[str, list[int]] = {"duplicate": [], "fresh": [], "again": []}
                for i in range(len(block)):
                    index = block.kpj_index(i)
                    if index in stored:
                        kinds["duplicate" if stored[index] == self.run_id else "again"].append(i)
                    else:
                        kinds["fresh" if direct else "again"].append(i)
                duplicates.extend(block.row_nos[i] for i in kinds["duplicate"])
                fresh.append(block.take(kinds["fresh"]))
                again.append(block.take(kinds["again"]))
            if any(fresh):
                self._copy(cur, self._copy_members, fresh)
            if any(again):
                self._copy(cur, self._copy_stage, again)
                cur.execute(self._update if direct else self._upsert)
        self.conn.commit()  # ON COMMIT DELETE ROWS empties the stage for the next batch
        return sorted(duplicates)

    @staticmethod
    def _copy(cur: Any, statement: str, blocks: Batch) -> None:
        with cur.copy(statement) as copy:
            copy.write(COPY_SIGNATURE)
            for block in blocks:
                copy.write(block.data)
            copy.write(COPY_TRAILER)

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
        updated = [c for c in COPY_COLUMNS if c not in ("kpj_bidx", "created_at")]
        self._upsert = stmt.on_conflict_do_update(
            index_elements=[Member.kpj_bidx], set_={c: stmt.excluded[c] for c in updated}
        )

    def write(self, batch: Batch) -> list[int]:
        by_index = {block.kpj_index(i): block.row_nos[i] for block in batch for i in range(len(block))}
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
                decode_row(block.row(i))
                for block in batch
                for i in range(len(block))
                if block.kpj_index(i) not in seen
            ]
            if rows:
                session.execute(self._upsert, rows)
        return sorted(by_index[k] for k in seen)

    def close(self) -> None:
        pass
