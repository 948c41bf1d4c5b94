"""Checking and sealing blocks of CSV records for the import, in this process or in worker processes.

Parsing, validation and encryption are most of the import's CPU time. A worker gets a block of raw CSV
bytes (storage.ops.csv_blocks) and returns the block's problems and its valid rows already encoded for the
database (storage.ops.member_codec): what crosses between processes is a few flat objects per block, not
Python objects per row. Blocks come back in file order, with a bounded number in flight (memory stays flat).
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from multiprocessing.pool import AsyncResult, Pool

from storage.crypto import Vault
from storage.ops.member_codec import RowBlock, RowSealer
from storage.ops.member_rows import COLUMNS, MemberRow, RowChecker, shown_value

BlockProblem = tuple[int, str, str, str]  # (record in the block from 0, column, reason, what may be shown)
Checked = tuple[int, list[BlockProblem], RowBlock]  # (records in the block, their problems, valid rows)


@dataclass(frozen=True)
class SealJob:
    """What a worker needs to check and seal the blocks of one import run."""

    keys: tuple[bytes, ...]
    header: tuple[str, ...]
    today: date
    run_id: int
    now: datetime

    def block_checker(self) -> BlockChecker:
        return BlockChecker(self.header, self.today, RowSealer(Vault(self.keys), self.run_id, self.now))


class BlockChecker:
    """Parses, checks and seals one block of whole CSV records; rows are numbered from 0 in the block."""

    def __init__(self, header: Sequence[str], today: date, sealer: RowSealer) -> None:
        self._check = RowChecker(header, today).check
        where = {name: i for i, name in enumerate(header)}
        self._where = {column: where[column] for column in COLUMNS if column in where}
        self._sealer = sealer

    def __call__(self, block: bytes) -> Checked:
        problems: list[BlockProblem] = []
        row_nos: list[int] = []
        rows: list[MemberRow] = []
        check, where = self._check, self._where
        count = 0
        for count, fields in enumerate(csv.reader(io.StringIO(block.decode("utf-8"), newline="")), 1):
            row, found = check(fields)
            if row is not None:
                row_nos.append(count - 1)
                rows.append(row)
                continue
            for column, reason in found:
                raw = fields[at] if (at := where.get(column, -1)) >= 0 and at < len(fields) else ""
                problems.append((count - 1, column, reason, shown_value(column, raw)))
        return count, problems, self._sealer.seal(row_nos, rows)


# per worker process: set once by _init (a process-local, not shared state)
_worker_checker: BlockChecker | None = None


def _init(job: SealJob) -> None:
    global _worker_checker
    _worker_checker = job.block_checker()


def _work(block: bytes) -> Checked:
    assert _worker_checker is not None
    return _worker_checker(block)


def checked_blocks(
    blocks: Iterable[tuple[bytes, int]], job: SealJob, *, workers: int
) -> Iterator[tuple[Checked, int]]:
    """Every block checked and sealed, in file order, with the file offset after it."""
    if workers <= 0:
        checker = job.block_checker()
        for block, end in blocks:
            yield checker(block), end
        return
    # forkserver: the workers start from a clean process (no inherited threads, locks or DB sockets); the
    # server imports this module once and forks each worker with it loaded (0.4 s of CPU a worker saves)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    pending: deque[tuple[AsyncResult[Checked], int]] = deque()
    with Pool(workers, _init, (job,), context=context) as pool:
        for block, end in blocks:
            pending.append((pool.apply_async(_work, (block,)), end))
            if len(pending) >= 2 * workers:
                result, done = pending.popleft()
                yield result.get(), done
        while pending:
            result, done = pending.popleft()
            yield result.get(), done
