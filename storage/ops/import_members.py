"""`jamsosbot import-members FILE.csv`: load members from the data exchange CSV (docs/storage.md).

Streaming: the file is read in blocks of whole records and written in batches, so memory stays flat however
large the file. Each row is validated (storage.ops.member_rows); a bad row is skipped and reported in an
error file (row number, column, reason; a NIK only masked, other personal values not at all), the rest is
loaded. Re-importing a file updates the members it holds (upsert on the KPJ blind index), so an interrupted
run can simply be run again. A KPJ that appears twice in one file is a duplicate: the first row wins.

The work is pipelined: this thread reads the file in blocks; parsing, validation and encryption run here
for small files and in worker processes for large ones (storage.ops.import_sealing), which hand back rows
already encoded for COPY; a writer thread sends the previous batch to the database meanwhile.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot.clock import now_wib
from storage.db import Database
from storage.models import ImportRun, utcnow
from storage.ops.csv_blocks import RecordBlocks
from storage.ops.import_sealing import SealJob, checked_blocks
from storage.ops.member_rows import COLUMNS, REQUIRED
from storage.ops.member_writers import Batch, Batches, writer_for
from storage.repo.staff import add_audit

log = logging.getLogger(__name__)

DEFAULT_BATCH = 5_000
PARALLEL_FROM_BYTES = 8 * 1024 * 1024  # about 50,000 rows
DUPLICATE = "duplicate: this KPJ appears earlier in the file"
ProgressCallback = Callable[[int, int], None]  # (bytes read, total bytes)


class ImportFormatError(ValueError):
    """The file cannot be imported at all (missing columns, not CSV, rotation in progress)."""


@dataclass(frozen=True)
class ImportReport:
    run_id: int
    rows_read: int
    rows_written: int
    rows_rejected: int
    errors_path: Path | None


class _ErrorFile:
    """The per-row error report, created on the first error only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: io.TextIOWrapper | None = None
        self._writer: Any = None
        self.rows = 0  # rejected rows (a row's problems arrive together, so counting changes is enough)
        self._last_row = 0

    def add(self, row_no: int, column: str, reason: str, shown: str) -> None:
        if self._writer is None:
            self._file = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["row", "column", "reason", "value"])
        self._writer.writerow([row_no, column, reason, shown])
        if row_no != self._last_row:
            self.rows, self._last_row = self.rows + 1, row_no

    def close(self) -> Path | None:
        if self._file is not None:
            self._file.close()
            return self.path
        return None


class _BackgroundWriter:
    """Writes batches on a thread, one batch in flight while the next is prepared."""

    def __init__(self, write: Callable[[Batch], list[int]]) -> None:
        self._write = write
        self._jobs: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._results: queue.Queue[tuple[Batch, list[int]] | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="member-import-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._jobs.get()) is not None:
            try:
                self._results.put((batch, self._write(batch)))
            except BaseException as exc:  # handed to the reading thread, which re-raises it
                self._results.put(exc)
                return

    def submit(self, batch: Batch) -> None:
        while True:
            if not self._thread.is_alive():
                self.finished()  # raises the writer's error
                raise RuntimeError("the import writer stopped")
            try:
                self._jobs.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def finished(self) -> list[tuple[Batch, list[int]]]:
        """Results ready so far (re-raises a writer failure)."""
        done = []
        while not self._results.empty():
            item = self._results.get()
            if isinstance(item, BaseException):
                raise item
            done.append(item)
        return done

    def close(self) -> list[tuple[Batch, list[int]]]:
        """Wait for the batches in flight; their results (re-raises a writer failure)."""
        while self._thread.is_alive():
            try:
                self._jobs.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self._thread.join()
        return self.finished()

    def abandon(self) -> None:
        """Stop after a failure elsewhere, without raising."""
        with contextlib.suppress(BaseException):
            self.close()


def import_members(
    db: Database,
    path: Path,
    *,
    errors_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH,
    today: date | None = None,
    on_progress: ProgressCallback | None = None,
    actor: str = "cli",
    workers: int | None = None,
) -> ImportReport:
    """Import `path`; the error report goes to `errors_path` (default: next to the file, `.errors.csv`).

    `workers`: processes that check and seal rows (None: chosen from the file size and the cores)."""
    if db.vault.key_count > 1:
        raise ImportFormatError("a key rotation is unfinished; run `jamsosbot rotate-key` first")
    today = today or now_wib().date()
    errors = _ErrorFile(errors_path or path.with_name(path.name + ".errors.csv"))
    total = path.stat().st_size
    run_id = _start_run(db, path.name)
    writer = writer_for(db, run_id)
    background = _BackgroundWriter(writer.write)
    batches = Batches(batch_size)
    rows_read = 0
    written = 0

    def collect(results: list[tuple[Batch, list[int]]]) -> None:
        nonlocal written
        for batch, duplicates in results:
            for row_no in duplicates:
                errors.add(row_no, "kpj", DUPLICATE, "")
            written += sum(map(len, batch)) - len(duplicates)

    try:
        with path.open("rb") as raw:
            source = RecordBlocks(raw)
            header = _check_header(source.header())
            job = SealJob(db.vault.master_keys(), tuple(header), today, run_id, utcnow())
            workers = choose_workers(total) if workers is None else workers
            for (count, problems, rows), end in checked_blocks(source, job, workers=workers):
                first = rows_read + 2  # row 1 is the header, as a spreadsheet shows them
                rows_read += count
                for n, column, reason, shown in problems:
                    errors.add(first + n, column, reason, shown)
                for batch in batches.add(rows.shifted(first)):
                    for row_no in batches.take_duplicates():
                        errors.add(row_no, "kpj", DUPLICATE, "")
                    background.submit(batch)
                    collect(background.finished())
                    if on_progress:
                        on_progress(end, total)
            for row_no in batches.take_duplicates():
                errors.add(row_no, "kpj", DUPLICATE, "")
            if last := batches.rest():
                background.submit(last)
            collect(background.close())
            if on_progress:
                on_progress(total, total)
    except BaseException:
        background.abandon()
        raise
    finally:
        writer.close()
        errors_file = errors.close()

    report = ImportReport(run_id, rows_read, written, errors.rows, errors_file)
    _finish_run(db, report, actor)
    log.info(
        "import run %d: %d rows read, %d imported, %d rejected",
        run_id,
        report.rows_read,
        report.rows_written,
        report.rows_rejected,
    )
    return report


def _check_header(fieldnames: list[str] | None) -> list[str]:
    if not fieldnames:
        raise ImportFormatError("the file is empty")
    names = [n.strip().lower() for n in fieldnames]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ImportFormatError(f"missing columns: {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    return names


def choose_workers(size: int) -> int:
    """Worker processes for checking and sealing a file of `size` bytes.

    Without workers this process parses, checks and seals while PostgreSQL writes on another core: on a
    2-core machine that pair already uses both cores, and workers only add processes and hand-offs
    (measured there, beside other work: rates within each other's noise, a fifth more CPU with workers;
    docs/storage.md). With 3 or more idle cores, workers take the parsing and
    sealing off this process: one per idle core beyond the two kept for this process and PostgreSQL, up
    to 4. Small files get none (starting them costs more than it saves)."""
    if size < PARALLEL_FROM_BYTES:
        return 0
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        busy = 0.0
    return max(0, min(4, round(cores - busy) - 2))


def _start_run(db: Database, source_name: str) -> int:
    with db.transaction() as session:
        run = ImportRun(source_name=source_name[:255])
        session.add(run)
        session.flush()
        return run.id


def _finish_run(db: Database, report: ImportReport, actor: str) -> None:
    counts = {"read": report.rows_read, "written": report.rows_written, "rejected": report.rows_rejected}
    with db.transaction() as session:
        run = session.get(ImportRun, report.run_id)
        if run is not None:
            run.finished_at = utcnow()
            run.rows_read, run.rows_written, run.rows_rejected = (
                report.rows_read,
                report.rows_written,
                report.rows_rejected,
            )
        add_audit(
            session,
            actor=actor,
            action="import_members",
            target=f"import_run:{report.run_id}",
            details=counts,
        )
