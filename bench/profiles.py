"""Where phonegate's CPU goes in each scenario: py-spy samples of the server while the
scenario runs (``--profile``; py-spy must be on PATH or named by ``PY_SPY``).

Only the thread holding the GIL is sampled (``--gil``), so the shares are of the Python
work; SQLite's own C code and the kernel run without the GIL and are not in them. py-spy
pauses the server for each sample (reading the stacks of a running process would misplace
the GIL), which slows it: take the figures from a run without ``--profile``. Each sample is
put in the category of its innermost frame that matches one.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

SAMPLES_PER_SECOND = 200
# (category, what a frame's file path starts with); the innermost matching frame decides.
CATEGORIES: list[tuple[str, str]] = [
    ("argon2", r"argon2"),
    ("crypto (RS256, Fernet, HMAC)", r"(cryptography|jwt)/|hmac\.py"),
    ("database driver (aiosqlite, asyncpg)", r"(aiosqlite|asyncpg|sqlite3)/"),
    ("SQLAlchemy: building statements, cache keys", r"sqlalchemy/sql/"),
    ("SQLAlchemy: executing, results, pool", r"sqlalchemy/|greenlet"),
    ("phonegate storage (repositories, counters)", r"phonegate/storage/"),
    ("templates (liquid)", r"liquid/"),
    ("pydantic", r"pydantic"),
    ("framework (starlette, fastapi, anyio)", r"(starlette|fastapi|anyio)/"),
    ("server (uvicorn, httptools)", r"(uvicorn|httptools)/"),
    ("outbound HTTP (httpx, httpcore)", r"(httpx|httpcore|h11)/"),
    ("logging", r"logging/"),
    ("phonegate domain, web, delivery", r"phonegate/"),
]
_FRAME_FILE = re.compile(r"\(([^:)]+)")
_MATCHERS = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]
OTHER = "other (event loop, stdlib)"


def py_spy() -> str | None:
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


def categorize(stack: str) -> str:
    """The category of one collapsed stack (``frame;frame;…``, innermost last)."""
    for frame in reversed(stack.split(";")):
        found = _FRAME_FILE.search(frame)
        path = found.group(1) if found else ""
        for name, matcher in _MATCHERS:
            if matcher.match(path):
                return name
    return OTHER


def breakdown(collapsed: str) -> list[tuple[str, float]]:
    """Shares of the samples by category, largest first, from py-spy's raw output."""
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[categorize(stack)] += int(count)
    total = sum(counts.values())
    return [(name, n / total) for name, n in counts.most_common()] if total else []


@asynccontextmanager
async def sampling(pid: int, out: Path) -> AsyncIterator[list[tuple[str, float]]]:
    """Sample ``pid`` for as long as the block runs; the list fills in at its end."""
    command = py_spy()
    assert command is not None, "py-spy was asked for but is not installed"
    spy = await asyncio.create_subprocess_exec(
        command, "record", "--pid", str(pid), "--gil", "--rate", str(SAMPLES_PER_SECOND),
        "--format", "raw", "--output", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    shares: list[tuple[str, float]] = []
    try:
        await asyncio.sleep(0.5)  # py-spy attaches
        yield shares
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        await spy.wait()
    shares.extend(await asyncio.to_thread(_read, out))


def _read(out: Path) -> list[tuple[str, float]]:
    return breakdown(out.read_text()) if out.exists() else []
