"""Checked member rows sealed into the import's wire format: PostgreSQL binary COPY tuples.

Worker processes turn checked rows into these bytes (blind indexes of the KPJ and NIK, the sealed identity,
the other columns encoded once per distinct value); the PostgreSQL writer sends them as they are, the
SQLite writer decodes them (`decode_row`). A `RowBlock` holds a run of them with their row numbers and KPJ
indexes as a few flat objects, so a block crosses between processes for almost nothing.

The sealed identity is `storage.repo.members.seal_identity`'s exact format (a JSON list under AES-GCM),
built without a JSON encoder for the common values that need no escaping.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from storage.crypto import INDEX_BYTES, Vault
from storage.ops.member_rows import MemberRow
from storage.repo.members import _IDENTITY_FORMAT, _JSON

# the members columns a row fills, in COPY order
COPY_COLUMNS = (
    "kpj_bidx",
    "nik_bidx",
    "identity_enc",
    "status",
    "programs",
    "occupations",
    "protected_from",
    "protected_until",
    "next_due_date",
    "registration_channel",
    "import_run_id",
    "created_at",
    "updated_at",
)
COPY_TYPES = dict.fromkeys(COPY_COLUMNS[:3], "bytea") | {
    "status": "text",
    "programs": "text",
    "occupations": "text",
    "protected_from": "date",
    "protected_until": "date",
    "next_due_date": "date",
    "registration_channel": "text",
    "import_run_id": "int4",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
JSON_COLUMNS = frozenset({"programs", "occupations"})
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
COPY_TRAILER = b"\xff\xff"

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's: dates count days, timestamps microseconds from it
_EPOCH_ORDINAL = _EPOCH.toordinal()
_ONE_MICROSECOND = timedelta(microseconds=1)
_I4 = struct.Struct(">i")
_FIELD_INT4 = struct.Struct(">ii")
_FIELD_INT8 = struct.Struct(">iq")
_NULL = _I4.pack(-1)
_ROW_HEAD = struct.pack(">h", len(COPY_COLUMNS)) + _I4.pack(INDEX_BYTES)
_NIK_HEAD = _I4.pack(INDEX_BYTES)
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


class RowBlock:
    """Encoded rows: `row_nos[i]` (row in the file), `kpj[16i:16i+16]` (KPJ blind index) and
    `data[starts[i]:starts[i+1]]` (the COPY tuple)."""

    __slots__ = ("data", "kpj", "row_nos", "starts")

    def __init__(self, row_nos: list[int], kpj: bytes, data: bytes, starts: list[int]) -> None:
        self.row_nos, self.kpj, self.data, self.starts = row_nos, kpj, data, starts

    def __len__(self) -> int:
        return len(self.row_nos)

    def __getstate__(self) -> tuple[list[int], bytes, bytes, list[int]]:
        return self.row_nos, self.kpj, self.data, self.starts

    def __setstate__(self, state: tuple[list[int], bytes, bytes, list[int]]) -> None:
        self.row_nos, self.kpj, self.data, self.starts = state

    def kpj_index(self, i: int) -> bytes:
        return self.kpj[i * INDEX_BYTES : (i + 1) * INDEX_BYTES]

    def row(self, i: int) -> bytes:
        return self.data[self.starts[i] : self.starts[i + 1]]

    def take(self, keep: Iterable[int]) -> RowBlock:
        """The rows at the positions `keep`, in that order."""
        positions = list(keep)
        rows = [self.row(i) for i in positions]
        starts = [0]
        for row in rows:
            starts.append(starts[-1] + len(row))
        return RowBlock(
            [self.row_nos[i] for i in positions],
            b"".join(self.kpj_index(i) for i in positions),
            b"".join(rows),
            starts,
        )

    def split(self, count: int) -> tuple[RowBlock, RowBlock]:
        """The first `count` rows and the rest."""
        cut = self.starts[count]
        head = RowBlock(
            self.row_nos[:count], self.kpj[: count * INDEX_BYTES], self.data[:cut], self.starts[: count + 1]
        )
        tail = RowBlock(
            self.row_nos[count:],
            self.kpj[count * INDEX_BYTES :],
            self.data[cut:],
            [s - cut for s in self.starts[count:]],
        )
        return head, tail

    def shifted(self, offset: int) -> RowBlock:
        """The same rows numbered `offset` further (a worker numbers from its block's start)."""
        return RowBlock([n + offset for n in self.row_nos], self.kpj, self.data, self.starts)


class RowSealer:
    """Seals checked rows of one import run (its id and time go into every row)."""

    def __init__(self, vault: Vault, run_id: int, now: datetime) -> None:
        self.vault = vault
        micros = (now - _EPOCH) // _ONE_MICROSECOND
        self._tail = _FIELD_INT4.pack(4, run_id) + _FIELD_INT8.pack(8, micros) * 2

    def seal(self, row_nos: list[int], rows: Sequence[MemberRow]) -> RowBlock:
        vault = self.vault
        kpj = vault.blind_index_many("kpj", [r.kpj for r in rows])
        nik = vault.blind_index_many("nik", [r.nik for r in rows])
        sealed = vault.encrypt_many("identity", [identity_json(r) for r in rows])
        parts: list[bytes] = []
        starts = [0]
        size, tail, pack_i4 = 0, self._tail, _I4.pack
        for row, kpj_index, nik_index, blob in zip(rows, kpj, nik, sealed, strict=True):
            encoded = b"".join(
                (
                    _ROW_HEAD,
                    kpj_index,
                    _NIK_HEAD,
                    nik_index,
                    pack_i4(len(blob)),
                    blob,
                    _lists(row.status, row.programs, row.occupations),
                    _date(row.protected_from),
                    _date(row.protected_until),
                    _date(row.next_due_date),
                    _text(row.registration_channel),
                    tail,
                )
            )
            parts.append(encoded)
            size += len(encoded)
            starts.append(size)
        return RowBlock(row_nos, b"".join(kpj), b"".join(parts), starts)


def identity_json(row: MemberRow) -> bytes:
    """The identity plaintext, byte for byte what seal_identity encrypts."""
    birth = row.birth_date.isoformat()
    if _NEEDS_ESCAPE.search(row.full_name) or (row.address and _NEEDS_ESCAPE.search(row.address)):
        values = (row.nik, row.kpj, row.full_name, birth, row.phone, row.address, row.income_base)
        return _JSON.encode([_IDENTITY_FORMAT, *values]).encode()
    # digits, an ISO date, an E.164 number and text without quotes, backslashes or control characters:
    # nothing to escape
    phone = "null" if row.phone is None else f'"{row.phone}"'
    address = "null" if row.address is None else f'"{row.address}"'
    income = "null" if row.income_base is None else str(row.income_base)
    return (
        f'[{_IDENTITY_FORMAT},"{row.nik}","{row.kpj}","{row.full_name}","{birth}",{phone},{address},{income}]'
    ).encode()


def _field(value: bytes) -> bytes:
    return _I4.pack(len(value)) + value


@lru_cache(maxsize=4096)
def _lists(status: str, programs: tuple[str, ...], occupations: tuple[str, ...]) -> bytes:
    # status, programs and occupations: a few dozen combinations in a whole file
    return b"".join(
        _field(text.encode()) for text in (status, json.dumps(list(programs)), json.dumps(list(occupations)))
    )


@lru_cache(maxsize=8192)
def _text(value: str | None) -> bytes:
    return _NULL if value is None else _field(value.encode())


@lru_cache(maxsize=65536)
def _date(value: date | None) -> bytes:
    return _NULL if value is None else _FIELD_INT4.pack(4, value.toordinal() - _EPOCH_ORDINAL)


def decode_row(data: bytes) -> dict[str, Any]:
    """One COPY tuple back into column values (JSON columns as lists), for writers without COPY."""
    values: dict[str, Any] = {}
    position = 2  # after the field count
    for column in COPY_COLUMNS:
        (size,) = _I4.unpack_from(data, position)
        position += 4
        if size < 0:
            values[column] = None
            continue
        raw = data[position : position + size]
        position += size
        kind = COPY_TYPES[column]
        if kind == "bytea":
            values[column] = raw
        elif column in JSON_COLUMNS:
            values[column] = json.loads(raw)
        elif kind == "text":
            values[column] = raw.decode()
        elif kind == "date":
            values[column] = date.fromordinal(_EPOCH_ORDINAL + _I4.unpack(raw)[0])
        elif kind == "int4":
            values[column] = _I4.unpack(raw)[0]
        else:  # timestamptz: microseconds since 2000-01-01 UTC
            values[column] = _EPOCH + _ONE_MICROSECOND * struct.unpack(">q", raw)[0]
    return values
