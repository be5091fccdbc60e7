"""The whole course of a run: argon2's cost, the SQLite half, the PostgreSQL half."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import postgres_suite
from bench.dataset import password_hasher
from bench.fake_provider import FakeTwilio
from bench.postgres_suite import PostgresFigures
from bench.runner import Bench, Plan, SqliteFigures
from phonegate.passwords import Argon2Passwords
from phonegate.settings import Settings

# OWASP's equally strong argon2id choices (Password Storage Cheat Sheet): (passes, KiB).
ARGON2_CHOICES = [(1, 47104), (2, 19456), (3, 12288), (4, 9216), (5, 7168)]


async def argon2_seconds(passwords: Argon2Passwords, rounds: int = 8) -> float:
    """CPU seconds of one password check (run in a worker thread as on the server;
    process CPU time covers every thread)."""
    stored = await passwords.hash("correct horse battery staple")
    started = time.process_time()
    for _ in range(rounds):
        await passwords.verify(stored, "correct horse battery staple")
    return (time.process_time() - started) / rounds


async def argon2_costs() -> tuple[float, list[tuple[int, int, float]]]:
    """The cost of a check with phonegate's configured parameters, and with each of
    OWASP's choices: (passes, KiB, CPU seconds)."""
    configured = await argon2_seconds(password_hasher(Settings()))
    choices = [
        (passes, kib, await argon2_seconds(Argon2Passwords(time_cost=passes, memory_cost=kib)))
        for passes, kib in ARGON2_CHOICES
    ]
    return configured, choices


@dataclass
class Figures:
    sqlite: SqliteFigures
    postgres: PostgresFigures | None
    argon2_seconds: float
    argon2_choices: list[tuple[int, int, float]]
    notes: list[str]


async def measure_all(plan: Plan, postgres_url: str | None, redis_url: str) -> Figures:
    """Everything the plan holds, in order."""
    argon2, choices = await argon2_costs()
    fake = await FakeTwilio().start()
    try:
        with tempfile.TemporaryDirectory(prefix="phonegate-bench-") as tmp:
            bench = Bench(plan, fake, Path(tmp))
            sqlite_figures = await bench.sqlite()
            if postgres_url is None:
                missing: str | None = "not asked for (--no-postgres)"
            else:
                missing = await postgres_suite.unreachable(postgres_url, redis_url)
            if postgres_url is None or missing is not None:
                note = f"The PostgreSQL targets were not measured: {missing}."
                return Figures(sqlite_figures, None, argon2, choices, [note])
            postgres_figures = await postgres_suite.measure(bench, postgres_url, redis_url)
            return Figures(sqlite_figures, postgres_figures, argon2, choices, [])
    finally:
        await fake.stop()
