"""Importing members from CSV: per-row validation with an error report, duplicates, idempotent re-import."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.clock import WIB, FixedClock
from storage.db import Database
from storage.membership.sql import SqlMembershipBackend
from storage.models import ImportRun, Member, utcnow
from storage.ops.fake_members import fake_members
from storage.ops.import_members import ImportFormatError, _start_run, import_members
from storage.ops.member_codec import RowBlock, RowSealer
from storage.ops.member_rows import COLUMNS, check_row
from tests.storage.factories import nik_for

TODAY = date(2026, 3, 10)
CLOCK = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=WIB))


def write_csv(path: Path, records: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow({c: record.get(c, "") for c in COLUMNS})
    return path


def good(kpj: str, birth: date, *, female: bool = False, **extra: str) -> dict[str, str]:
    return {
        "kpj": kpj,
        "nik": nik_for(birth, female=female, serial=int(kpj[-4:]) or 1),
        "full_name": "Bambang Sutrisno",
        "birth_date": birth.isoformat(),
        "status": "active",
        "programs": "jkk+jkm",
        "protected_from": "2025-01-10",
        "protected_until": "2026-03-31",
        "next_due_date": "2026-04-15",
        **extra,
    }


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def member_count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Member)) or 0)


def test_bad_rows_are_reported_and_good_rows_loaded(storage_db: Database, tmp_path: Path) -> None:
    b1, b2 = date(1985, 5, 12), date(1979, 11, 30)
    records = [
        good("11000000001", b1),  # row 2
        {**good("11000000002", b1), "nik": "320101120585001"},  # row 3: 15 digits
        {**good("11000000003", b1), "nik": "990101120585" + "0003"},  # row 4: unknown province
        {**good("11000000004", b1), "nik": "3201013202850004"},  # row 5: 32nd of February
        {**good("11000000005", b1), "birth_date": "1985-02-30"},  # row 6: impossible date
        good("11000000001", b1),  # row 7: duplicate KPJ of row 2
        {**good("11000000007", b1), "birth_date": "1986-05-12"},  # row 8: NIK says 1985
        {**good("1100000008", b1)},  # row 9: 10-digit KPJ
        {**good("11000000009", b1), "status": "aktif"},  # row 10: unknown status
        {**good("11000000010", b1), "protected_from": "2026-05-01"},  # row 11: from after until
        good("11000000011", b2, female=True, phone="0812-3456-7890", address="Jl. Kenanga 3"),  # row 12
    ]
    path = write_csv(tmp_path / "members.csv", records)
    report = import_members(storage_db, path, today=TODAY, batch_size=3)
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (11, 2, 9)
    assert report.errors_path is not None
    errors = rows_of(report.errors_path)
    got = {(int(e["row"]), e["column"]) for e in errors}
    assert got == {
        (3, "nik"),
        (4, "nik"),
        (5, "nik"),
        (6, "birth_date"),
        (7, "kpj"),
        (8, "birth_date"),
        (9, "kpj"),
        (10, "status"),
        (11, "protected_until"),
    }
    reasons = {(int(e["row"]), e["column"]): e["reason"] for e in errors}
    assert "16 digits" in reasons[(3, "nik")] and "province" in reasons[(4, "nik")]
    assert "impossible" in reasons[(5, "nik")] and "duplicate" in reasons[(7, "kpj")]
    text = report.errors_path.read_text()
    for record in records:  # no NIK and no birth date in clear in the report
        assert record["nik"] not in text and record["birth_date"] not in text
    assert "3201***" in text  # a NIK is shown masked

    backend = SqlMembershipBackend(storage_db, clock=CLOCK)
    found = backend.lookup(kpj="11000000011", birth_date=b2)
    assert found is not None and found.status == "active" and found.protected_until == date(2026, 3, 31)
    assert member_count(storage_db) == 2


def test_reimport_updates_and_never_duplicates(storage_db: Database, tmp_path: Path) -> None:
    records = list(fake_members(40, seed=7, today=TODAY))
    path = write_csv(tmp_path / "members.csv", records)
    first = import_members(storage_db, path, today=TODAY, batch_size=16)
    assert (first.rows_written, first.rows_rejected, first.errors_path) == (40, 0, None)

    records[0] |= {"status": "inactive", "protected_from": "2024-06-01", "protected_until": "2025-01-31"}
    path = write_csv(tmp_path / "members.csv", [*records, records[5]])  # one in-file duplicate at the end
    second = import_members(storage_db, path, today=TODAY, batch_size=16)
    assert (second.rows_read, second.rows_written, second.rows_rejected) == (41, 40, 1)
    assert member_count(storage_db) == 40
    changed = SqlMembershipBackend(storage_db, clock=CLOCK).lookup(
        kpj=records[0]["kpj"], birth_date=date.fromisoformat(records[0]["birth_date"])
    )
    assert (
        changed is not None and changed.status == "inactive" and changed.protected_until == date(2025, 1, 31)
    )
    with storage_db.session() as s:
        runs = s.scalars(select(ImportRun).order_by(ImportRun.id)).all()
        assert [(r.rows_written, r.rows_rejected) for r in runs] == [(40, 0), (40, 1)]
        assert all(r.finished_at is not None for r in runs)


def test_a_file_without_the_required_columns_is_refused(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("kpj,nama\n11000000001,Budi\n")
    with pytest.raises(ImportFormatError, match="missing columns: nik"):
        import_members(sqlite_db, path, today=TODAY)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportFormatError, match="empty"):
        import_members(sqlite_db, empty, today=TODAY)


def test_progress_is_reported_up_to_the_whole_file(sqlite_db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", list(fake_members(30, today=TODAY)))
    seen: list[tuple[int, int]] = []
    import_members(
        sqlite_db,
        path,
        today=TODAY,
        batch_size=10,
        on_progress=lambda done, total: seen.append((done, total)),
    )
    size = path.stat().st_size
    assert seen[-1] == (size, size) and len(seen) >= 3
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_worker_processes_give_the_same_result(sqlite_db: Database, tmp_path: Path) -> None:
    records = list(fake_members(25, seed=3, today=TODAY))
    records[4] = {**records[4], "nik": "12345"}
    path = write_csv(tmp_path / "m.csv", records)
    report = import_members(sqlite_db, path, today=TODAY, workers=1)
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (25, 24, 1)
    assert report.errors_path is not None
    assert [(r["row"], r["column"], r["value"]) for r in rows_of(report.errors_path)] == [
        ("6", "nik", "1234*")
    ]


def sealed_block(db: Database, run_id: int, records: list[dict[str, str]]) -> RowBlock:
    rows = [check_row(r, today=TODAY)[0] for r in records]
    valid = [row for row in rows if row is not None]
    return RowSealer(db.vault, run_id, utcnow()).seal(list(range(2, 2 + len(valid))), valid)


@pytest.mark.postgres
def test_postgres_writer_falls_back_to_upsert_on_a_collision(pg_db: Database) -> None:
    from psycopg.errors import UniqueViolation

    from storage.ops.member_writers import PostgresCopyWriter

    records = list(fake_members(3, seed=11, today=TODAY))
    other_run = _start_run(pg_db, "another process")
    other = PostgresCopyWriter(pg_db, other_run)
    other.write([sealed_block(pg_db, other_run, records[:1])])
    other.close()
    run_id = _start_run(pg_db, "this run")
    writer = PostgresCopyWriter(pg_db, run_id)
    calls: list[bool] = []
    original = writer._write

    def collide_once(batch, *, direct):  # type: ignore[no-untyped-def]
        calls.append(direct)
        if direct:  # what a careful COPY raises when another process stored a KPJ after our check
            raise UniqueViolation("duplicate key value violates unique constraint")
        return original(batch, direct=direct)

    writer._write = collide_once  # type: ignore[method-assign]
    # the blind COPY meets the stored KPJ, the careful one a KPJ stored meanwhile: the upsert then applies
    assert writer.write([sealed_block(pg_db, run_id, records)]) == []
    writer.close()
    assert calls == [True, False] and member_count(pg_db) == 3  # the stored KPJ updated, not duplicated
    with pg_db.session() as s:
        assert set(s.scalars(select(Member.import_run_id))) == {run_id}
