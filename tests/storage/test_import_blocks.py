"""The import's fast path: CSV blocks of whole records, rows sealed into COPY tuples, worker processes,
and the PostgreSQL writer's blind COPY meeting stored members."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from storage.crypto import Vault
from storage.db import Database
from storage.models import Member, utcnow
from storage.ops import csv_blocks
from storage.ops.csv_blocks import RecordBlocks, record_end
from storage.ops.fake_members import fake_members
from storage.ops.import_members import import_members
from storage.ops.member_codec import RowSealer, decode_row, identity_json
from storage.ops.member_rows import COLUMNS, MemberRow, check_row
from storage.repo.members import _IDENTITY_FORMAT, _JSON, MemberIdentity, open_identity
from tests.storage.test_import import TODAY, rows_of, write_csv

TRICKY = [
    "Jl. Melati 3,\nBogor",  # a line break inside a quoted field
    'Gang "Kenanga" No. 5',  # quotes, doubled in the file
    "Blok C, RT 01/RW 02\r\nKel. Ciawi",
    "Jl. Dr. Soetomo — Surabaya",  # a character of several UTF-8 bytes
    "",
]


def csv_text(records: list[dict[str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def tricky_members(count: int) -> list[dict[str, str]]:
    records = list(fake_members(count, seed=5, today=TODAY))
    for i, record in enumerate(records):
        record["address"] = TRICKY[i % len(TRICKY)]
    return records


@pytest.mark.parametrize("block_size", [1, 7, 64, 1000])
def test_blocks_hold_whole_records_whatever_their_size(block_size: int) -> None:
    data = b"\xef\xbb\xbf" + csv_text(tricky_members(40))
    source = RecordBlocks(io.BytesIO(data), block_size)
    assert source.header() == list(COLUMNS)
    blocks = list(source)
    ends = [end for _, end in blocks]
    assert ends == sorted(set(ends)) and ends[-1] == len(data)
    parsed = [r for block, _ in blocks for r in csv.reader(io.StringIO(block.decode(), newline=""))]
    whole = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1:]
    assert parsed == whole and len(parsed) == 40


def test_a_stray_quote_keeps_blocks_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_blocks, "MAX_BLOCK", 300)
    lines = [b"kpj,nik\n", b'1,Jl. "Melati\n'] + [b"%d,plain\n" % i for i in range(200)]
    blocks = list(_after_header(b"".join(lines), 50))
    assert max(len(block) for block, _ in blocks) <= 300 + 50
    parsed = [r for block, _ in blocks for r in csv.reader(io.StringIO(block.decode(), newline=""))]
    assert parsed[0] == ["1", 'Jl. "Melati'] and len(parsed) == 201  # read as the csv module reads it


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("block_size", [3, 40])
def test_blocks_follow_the_files_line_breaks(newline: bytes, block_size: int) -> None:
    lines = [b"kpj,address", b'1,"a' + newline + b'b"', b"2,plain", b'3,"x,""y"""', b"4,last"]
    data = newline.join(lines)  # no line break after the last record
    blocks = _after_header(data, block_size)
    assert blocks[-1][1] == len(data)
    parsed = [r for block, _ in blocks for r in csv.reader(io.StringIO(block.decode(), newline=""))]
    assert parsed == list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]
    assert len(parsed) == 4


def test_a_line_longer_than_the_limit_is_never_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_blocks, "MAX_BLOCK", 100)
    long_line = b"1," + b"x" * 500 + b"\n"
    assert [block for block, _ in _after_header(b"kpj,address\n" + long_line + b"2,b", 16)] == [
        long_line,
        b"2,b",
    ]


def _after_header(data: bytes, block_size: int) -> list[tuple[bytes, int]]:
    source = RecordBlocks(io.BytesIO(data), block_size)
    source.header()
    return list(source)


def test_record_end_skips_line_breaks_inside_quotes() -> None:
    data = b'a,"x\ny"\nb,"z""\n"\nc'
    assert record_end(data, last=True) == data.index(b'"\nc') + 2
    assert record_end(data, last=False) == data.index(b'"\nb') + 2
    assert record_end(b'a,"open\n', last=True) == -1


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    full_name=names,
    address=st.none() | names,
    phone=st.none() | st.just("+6281234567890"),
    income=st.none() | st.integers(1, 10**9),
)
def test_identity_plaintext_is_seal_identitys_exact_json(
    full_name: str, address: str | None, phone: str | None, income: int | None
) -> None:
    row = _row(full_name=full_name, address=address, phone=phone, income_base=income)
    payload = [_IDENTITY_FORMAT, row.nik, row.kpj, full_name, "1990-06-05", phone, address, income]
    assert identity_json(row) == _JSON.encode(payload).encode()


def _row(**changes: object) -> MemberRow:
    base = check_row(
        {
            "kpj": "21034567890",
            "nik": "3201014506900003",
            "full_name": "Siti Rahmawati",
            "birth_date": "1990-06-05",
            "status": "active",
            "programs": "jkk+jkm",
            "protected_until": "2026-03-31",
        },
        today=TODAY,
    )[0]
    assert base is not None
    return base._replace(**changes)


def test_a_sealed_row_decodes_to_what_was_checked(vault: Vault) -> None:
    rows = [_row(), _row(kpj="21034567891", address='Jl. "A"\n', phone="+6281234567890", income_base=5)]
    block = RowSealer(vault, 7, utcnow()).seal([2, 3], rows)
    head, tail = block.split(1)
    assert (len(head), len(tail), tail.row_nos, block.shifted(10).row_nos) == (1, 1, [3], [12, 13])
    assert block.take([1]).row(0) == block.row(1) == tail.row(0)
    for i, row in enumerate(rows):
        values = decode_row(block.row(i))
        assert values["kpj_bidx"] == block.kpj_index(i) == vault.blind_index("kpj", row.kpj)
        assert values["nik_bidx"] == vault.blind_index("nik", row.nik)
        assert (values["status"], values["programs"], values["occupations"]) == ("active", ["jkk", "jkm"], [])
        assert (values["protected_from"], values["protected_until"]) == (None, date(2026, 3, 31))
        assert values["import_run_id"] == 7 and values["created_at"] == values["updated_at"]
        identity = open_identity(vault, values["identity_enc"])
        assert identity == MemberIdentity(
            row.nik, row.kpj, row.full_name, row.birth_date, row.phone, row.address, row.income_base
        )


def _members(db: Database) -> dict[str, tuple[str, str | None, int | None]]:
    with db.session() as s:
        found = s.execute(select(Member.identity_enc, Member.status, Member.import_run_id)).all()
    return {
        open_identity(db.vault, blob).kpj: (status, open_identity(db.vault, blob).address, run)
        for blob, status, run in found
    }


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_and_small_blocks_give_the_same_import(
    storage_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(csv_blocks, "BLOCK", 1500)  # about 10 rows a block: many blocks and batches
    records = tricky_members(60)
    records[7]["nik"] = "12345"  # bad row
    records[30] = dict(records[3])  # a duplicate in a later block and batch
    records[32] = dict(records[31])  # a duplicate on the next row (the first row wins)
    path = tmp_path / "m.csv"
    path.write_bytes(csv_text(records))
    report = import_members(storage_db, path, today=TODAY, batch_size=8, workers=workers)
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (60, 57, 3)
    assert report.errors_path is not None
    assert sorted((int(r["row"]), r["column"]) for r in rows_of(report.errors_path)) == [
        (9, "nik"),
        (32, "kpj"),
        (34, "kpj"),
    ]
    stored = _members(storage_db)
    assert len(stored) == 57
    assert {k: v[1] for k, v in stored.items()} == {
        r["kpj"]: r["address"] or None for i, r in enumerate(records) if i not in (7, 30, 32)
    }


@pytest.mark.postgres
def test_a_blind_copy_meeting_stored_members_updates_them(pg_db: Database, tmp_path: Path) -> None:
    records = list(fake_members(30, seed=4, today=TODAY))
    first = import_members(pg_db, write_csv(tmp_path / "a.csv", records[10:20]), today=TODAY)
    with pg_db.transaction() as s:  # as if made by the chat's registration, not by an import
        s.execute(update(Member).values(import_run_id=None))
    for record in records:
        record["status"] = "inactive"
    again = import_members(pg_db, write_csv(tmp_path / "b.csv", records), today=TODAY, batch_size=5)
    assert (again.rows_written, again.rows_rejected) == (30, 0)
    stored = _members(pg_db)
    assert len(stored) == 30 and {v[0] for v in stored.values()} == {"inactive"}
    assert {v[2] for v in stored.values()} == {again.run_id} != {first.run_id}


@pytest.mark.parametrize(
    ("cores", "load", "size", "expected"),
    [(2, 0.1, 10**9, 0), (4, 0.1, 10**9, 2), (8, 0.5, 10**9, 4), (8, 5.0, 10**9, 1), (8, 0.1, 10**3, 0)],
)
def test_workers_only_where_cores_beyond_two_are_idle(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, size: int, expected: int
) -> None:
    from storage.ops import import_members as module

    monkeypatch.setattr(module.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(module.os, "getloadavg", lambda: (load, load, load))
    assert module.choose_workers(size) == expected
