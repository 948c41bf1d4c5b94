"""A CSV file read as blocks of whole records, so other processes can parse and check them.

A block ends at a line break outside any quoted field: where the count of quote characters before it is
even (a quote inside a quoted field is doubled, so it does not change the count's parity). The blocks are
bytes, cut on line breaks (`\\n`, or `\\r` in a file whose lines end with it alone), so a multi-byte UTF-8
character is never split.

A quote character in the middle of an unquoted field (which the csv module reads as an ordinary
character) upsets the count; blocks then end at the next plain line break once they pass `MAX_BLOCK`,
which keeps memory bounded and is right unless the same file also has line breaks inside quoted fields.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 512 * 1024  # about 3,000 member rows
MAX_BLOCK = 8 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_QUOTE = b'"'


def record_end(data: bytes, *, last: bool, newline: bytes = b"\n") -> int:
    """The offset just after the last (or, with last=False, the first) line break of `data` that is outside
    a quoted field, or -1."""
    if not last:
        position = data.find(newline)
        while position >= 0:
            if data.count(_QUOTE, 0, position) % 2 == 0:
                return position + 1
            position = data.find(newline, position + 1)
        return -1
    position = data.rfind(newline)
    quotes = data.count(_QUOTE, 0, position) if position >= 0 else 0
    while position >= 0:
        if quotes % 2 == 0:
            return position + 1
        previous = data.rfind(newline, 0, position)
        quotes -= data.count(_QUOTE, previous + 1, position)
        position = previous
    return -1


def _line_break(data: bytes) -> bytes | None:
    """The byte that ends lines: `\\n` (also for `\\r\\n`), or `\\r` alone (old Mac files); None while
    `data` does not tell yet."""
    n, r = data.find(b"\n"), data.find(b"\r")
    if 0 <= r < len(data) - 1 and (n < 0 or r < n):
        return b"\n" if data[r + 1 : r + 2] == b"\n" else b"\r"
    return b"\n" if n >= 0 else None


class RecordBlocks:
    """`header()` first (the first record, parsed), then iterate: (block of whole records, file offset
    after it)."""

    def __init__(self, raw: BinaryIO, block_size: int | None = None) -> None:
        self._raw = raw
        self._size = block_size or BLOCK
        self._carry = b""
        self._newline = b"\n"
        self._started = False

    def header(self) -> list[str] | None:
        data = self._raw.read(self._size)
        while (newline := _line_break(data)) is None and (more := self._raw.read(self._size)):
            data += more
        self._newline = newline or b"\n"
        while (end := record_end(data, last=False, newline=self._newline)) < 0 and (
            more := self._raw.read(self._size)
        ):
            data += more
        end = len(data) if end < 0 else end
        header, self._carry, self._started = data[:end], data[end:], True
        header = header[len(_BOM) :] if header.startswith(_BOM) else header
        return next(csv.reader(io.StringIO(header.decode("utf-8"), newline="")), None)

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        assert self._started, "read the header first"
        data = self._carry
        while chunk := self._raw.read(self._size):
            data += chunk
            end = record_end(data, last=True, newline=self._newline)
            if end < 0 and len(data) > max(MAX_BLOCK, self._size):  # a stray quote: plain line breaks
                end = data.rfind(self._newline) + 1
            if end > 0:
                yield data[:end], self._raw.tell() - (len(data) - end)
                data = data[end:]
        if data:
            yield data, self._raw.tell()
