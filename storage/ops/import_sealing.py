"""Checking and sealing CSV records for the import, in this process or in worker processes.

Validation and encryption are most of the import's CPU time; on a machine with spare cores, worker
processes do them in parallel while this process reads the file and the database writes. Records go out in
chunks and come back in order, with a bounded number of chunks in flight (memory stays flat).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from multiprocessing.pool import AsyncResult, Pool

from storage.crypto import Vault
from storage.ops.member_rows import SealedRow, check_row, seal_row, shown_value

Record = tuple[int, list[str]]  # (row number in the file, the CSV fields)
Problem = tuple[str, str, str]  # (column, reason, what the report may show of the value)
Checked = tuple[int, SealedRow | None, list[Problem]]
CHUNK = 2_000

# per worker process: set once by _init (a process-local, not shared state)
_worker_vault: Vault | None = None
_worker_today: date | None = None


def check_and_seal(
    vault: Vault, today: date, header: Sequence[str], chunk: Sequence[Record]
) -> list[Checked]:
    out: list[Checked] = []
    for row_no, fields in chunk:
        record = dict(zip(header, fields, strict=False))
        clean, problems = check_row(record, today=today)
        shown = [(p.column, p.reason, shown_value(p.column, record.get(p.column) or "")) for p in problems]
        out.append((row_no, seal_row(vault, clean) if clean is not None else None, shown))
    return out


def _init(keys: tuple[bytes, ...], today: date) -> None:
    global _worker_vault, _worker_today
    _worker_vault, _worker_today = Vault(keys), today


def _work(header: Sequence[str], chunk: Sequence[Record]) -> list[Checked]:
    assert _worker_vault is not None and _worker_today is not None
    return check_and_seal(_worker_vault, _worker_today, header, chunk)


def _chunks(records: Iterable[Record]) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def checked_rows(
    records: Iterable[Record], header: Sequence[str], *, vault: Vault, today: date, workers: int
) -> Iterator[Checked]:
    """Every record checked (and sealed when valid), in file order."""
    if workers <= 0:
        for chunk in _chunks(records):
            yield from check_and_seal(vault, today, header, chunk)
        return
    # forkserver: the workers start from a clean process (no inherited threads, locks or DB sockets)
    context = multiprocessing.get_context("forkserver")
    pending: deque[AsyncResult[list[Checked]]] = deque()
    with Pool(workers, _init, (vault.master_keys(), today), context=context) as pool:
        for chunk in _chunks(records):
            pending.append(pool.apply_async(_work, (list(header), chunk)))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
