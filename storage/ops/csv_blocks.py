"""A CSV file read as blocks of whole records, so other processes can parse and check them.

A block ends at a line break outside any quoted field: where the count of quote characters before it is
even (a quote inside a quoted field is doubled, so it does not change the count's parity). The blocks are
bytes, cut on line breaks, so a multi-byte UTF-8 character is never split.

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
_QUOTE, _NEWLINE = b'"', b"\n"


def record_end(data: bytes, *, last: bool) -> int:
    """The offset just after the last (or, with last=False, the first) line break of `data` that is outside
    a quoted field, or -1."""
    if not last:
        position = data.find(_NEWLINE)
        while position >= 0:
            if data.count(_QUOTE, 0, position) % 2 == 0:
                return position + 1
            position = data.find(_NEWLINE, position + 1)
        return -1
    position = data.rfind(_NEWLINE)
    quotes = data.count(_QUOTE, 0, position) if position >= 0 else 0
    while position >= 0:
        if quotes % 2 == 0:
            return position + 1
        previous = data.rfind(_NEWLINE, 0, position)
        quotes -= data.count(_QUOTE, previous + 1, position)
        position = previous
    return -1


class RecordBlocks:
    """`header()` first (the first record, parsed), then iterate: (block of whole records, file offset
    after it)."""

    def __init__(self, raw: BinaryIO, block_size: int | None = None) -> None:
        self._raw = raw
        self._size = block_size or BLOCK
        self._carry = b""
        self._started = False

    def header(self) -> list[str] | None:
        data = self._raw.read(self._size)
        while (end := record_end(data, last=False)) < 0 and (more := self._raw.read(self._size)):
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
            end = record_end(data, last=True)
            if end < 0 and len(data) > max(MAX_BLOCK, self._size):  # a stray quote: plain line breaks
                end = data.rfind(_NEWLINE) + 1 or len(data)
            if end > 0:
                yield data[:end], self._raw.tell() - (len(data) - end)
                data = data[end:]
        if data:
            yield data, self._raw.tell()
