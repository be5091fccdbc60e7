"""CPU time and resident memory of server processes, read from /proc (Linux only).

A server started with ``--workers N`` is a supervisor with N children, so every figure
covers the whole process tree of the pid the runner started.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CORES = os.cpu_count() or 1


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    raw = (PROC / str(pid) / "stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's list, as the kernel keeps them per task)."""
    found: list[int] = []
    for task in (PROC / str(pid) / "task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are still alive."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            pending.extend(children(current))
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids.append(current)
    return pids


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by ``pid`` and its live descendants."""
    total = 0
    for member in tree(pid):
        try:
            fields = _stat_fields(member)
        except FileNotFoundError:
            continue
        # utime and stime are fields 14 and 15 of stat(5); the list starts at field 3.
        total += int(fields[11]) + int(fields[12])
    return total / TICKS_PER_SECOND


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (not its children)."""
    resident_pages = int((PROC / str(pid) / "statm").read_text().split()[1])
    return resident_pages * PAGE_BYTES


def workers(pid: int) -> list[int]:
    """The processes that serve requests: the children of a multi-worker supervisor, or the
    process itself when it serves alone. multiprocessing's resource tracker is a child of the
    supervisor too, and serves nothing."""
    serving = [
        child
        for child in children(pid)
        if b"resource_tracker" not in (PROC / str(child) / "cmdline").read_bytes()
    ]
    return serving or [pid]


def machine_ticks() -> tuple[int, int]:
    """The whole machine's busy and total CPU ticks so far, over all cores (/proc/stat)."""
    fields = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of all the machine's cores that was busy between two readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0
