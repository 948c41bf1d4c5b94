"""CPU seconds of a process tree and of given processes, from Linux /proc (for the benchmarks' figures).

A machine shared with other work makes wall-clock rates noisy; the CPU a job used is not. `TreeCpu` samples
this process's descendants while they run (a worker's CPU is lost once it exits, so the last sample counts;
the error is at most one interval per worker) and adds this process's own CPU.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on; the name may hold spaces


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (0.0 when it is gone)."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(root: int) -> float:
    """CPU seconds of a running process and of its descendants."""
    return sum(process_cpu(pid) for pid in [root, *descendants(root)])


def named_cpu(*names: str) -> float:
    """CPU seconds of every running process with one of these names (e.g. PostgreSQL's backends, Redis)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                name = Path(f"/proc/{entry}/comm").read_text().strip()
            except OSError:
                continue
            if name in names:
                total += process_cpu(int(entry))
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat; two readings give the busy
    share between them."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(entry)) is not None:
            parents[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found.extend(frontier)
    return found


class TreeCpu:
    """CPU seconds of this process and of its descendants between start() and stop()."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}
        self._before: dict[int, float] = {}
        self._self_before = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-cpu", daemon=True)

    def start(self) -> TreeCpu:
        self._self_before = sum(os.times()[:2])
        self._before = {pid: process_cpu(pid) for pid in descendants(os.getpid())}
        self._thread.start()
        return self

    def _sample(self) -> None:
        for pid in descendants(os.getpid()):
            if (seconds := process_cpu(pid)) > 0:
                self._last[pid] = seconds

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> tuple[float, float]:
        """(this process, its descendants) CPU seconds used meanwhile."""
        self._sample()
        self._stop.set()
        self._thread.join()
        own = sum(os.times()[:2]) - self._self_before
        children = sum(s - self._before.get(pid, 0.0) for pid, s in self._last.items())
        return own, children
