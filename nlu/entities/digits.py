"""Runs of digit groups ("0812-3456-7890", "3201 0145 0690 0003", "+62 813 1234 5678").

NIK, KPJ and phone numbers are typed with spaces, dots or dashes between groups of digits, and two numbers
may sit side by side ("3201014506900003 21034567890"). A run is a maximal sequence of digit groups joined
by exactly one separator; the finders pick contiguous groups inside a run whose digits add up to the length
they need, so a number never swallows half of its neighbour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

_RUN = re.compile(r"(?<![0-9])\+?[0-9]+(?:[ .\-][0-9]+)*")
_GROUP = re.compile(r"\+?[0-9]+")


@dataclass(frozen=True)
class Group:
    """One group of digits: `text` as typed (may start with "+"), `digits` without the "+"."""

    text: str
    start: int
    end: int

    @property
    def digits(self) -> str:
        return self.text.lstrip("+")


@lru_cache(maxsize=32)
def runs(folded: str) -> tuple[tuple[Group, ...], ...]:
    """Every run of digit groups in `folded` (ASCII digits only), left to right.

    Cached: the NIK, KPJ and phone finders all scan the same message."""
    return tuple(_groups(run) for run in _RUN.finditer(folded))


def _groups(run: re.Match[str]) -> tuple[Group, ...]:
    return tuple(
        Group(m.group(0), run.start() + m.start(), run.start() + m.end())
        for m in _GROUP.finditer(run.group(0))
    )


def exact_spans(groups: tuple[Group, ...], length: int) -> Iterator[tuple[int, int]]:
    """(i, j) such that groups[i..j] hold exactly `length` digits; left to right, never overlapping."""
    i = 0
    while i < len(groups):
        total = 0
        for j in range(i, len(groups)):
            total += len(groups[j].digits)
            if total >= length:
                break
        if total == length:
            yield i, j
            i = j + 1
        else:
            i += 1


def longest_spans(
    groups: tuple[Group, ...],
    accept: Callable[[tuple[Group, ...]], bool],
    max_digits: int | None = None,
) -> Iterator[tuple[int, int]]:
    """(i, j) for the longest groups[i..j] that `accept` takes, from each group on; never overlapping.

    `max_digits` bounds the spans tried: without it a run of n groups costs n² calls of `accept` (a
    message of a thousand "0 " groups took seconds), with it at most `max_digits` calls per group."""
    i = 0
    while i < len(groups):
        last, total = i, 0
        while max_digits is not None and last < len(groups):
            total += len(groups[last].digits)
            if total > max_digits:
                break
            last += 1
        top = last - 1 if max_digits is not None else len(groups) - 1
        for j in range(top, i - 1, -1):
            if accept(groups[i : j + 1]):
                yield i, j
                i = j + 1
                break
        else:
            i += 1
