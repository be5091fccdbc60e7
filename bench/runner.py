"""How a run measures (``Plan``, ``Bench``), and its SQLite half.

The SQLite half runs the stack ceiling, the work ceiling and phonegate, one process each,
phonegate and its ceiling on copies of one populated database. Every scenario runs on the
ceiling and then on phonegate, back to back, so both see the same machine; then the
challenge again with an instant provider and with one answering after 2 s. The load runs
in this process (with the fake provider); each server is a child process.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import sqlalchemy as sa

from bench import procstat, profiles, scenarios, servers
from bench.dataset import (
    Population,
    Sizes,
    populate,
)
from bench.fake_provider import FakeTwilio
from bench.loadclient import Bounds, Operation, Sample, merged, run
from bench.report import Comparison, ms, percentile
from bench.servers import Server
from phonegate.storage import tables
from phonegate.storage.db import create_engine

log = logging.getLogger("bench")
SETTLE_SECONDS = 60.0
_outbox = tables.outbox_messages.c
OUTBOX_BUSY = (
    sa.select(sa.func.count())
    .select_from(tables.outbox_messages)
    .where(
        sa.or_(
            _outbox.status.in_(("pending", "sending")),
            _outbox.feedback_status.in_(("due", "sending")),
        )
    )
)
CODE_WAIT = 120.0  # how long a run's codes may take to reach the provider
# Scenarios measured ceiling, phonegate, phonegate, ceiling: argon2's cost per check drifts
# by up to 2x between runs on a shared machine, and the login is mostly argon2.
TWICE = frozenset({"full MFA login"})


SQLITE_SIZES = Sizes(enrolled=6000, enrollees=2000, sms=2000, tokens=6000)
POSTGRES_SIZES = Sizes(enrolled=6000, enrollees=10, sms=10, tokens=6000)


@dataclass(frozen=True, slots=True)
class Plan:
    concurrency: int = 16
    duration: float = 8.0  # seconds per measured run at most
    warmup: int = 40
    sqlite: Sizes = SQLITE_SIZES
    postgres: Sizes = POSTGRES_SIZES
    # 100 000 requests take some 20 minutes on two cores: pass --soak-requests for them.
    soak_requests: int = 12_000
    large: tuple[int, int] = (1_000, 1_000_000)
    large_verifies: int = 900
    slow_provider_seconds: float = 2.0
    profile: bool = False  # sample phonegate with py-spy during the SQLite scenarios


QUICK = Plan(
    duration=1.5,
    warmup=10,
    sqlite=Sizes(enrolled=600, enrollees=300, sms=300, tokens=600),
    postgres=Sizes(enrolled=600, enrollees=10, sms=10, tokens=600),
    soak_requests=2_000,
    large=(200, 20_000),
    large_verifies=150,
)


@dataclass
class SqliteFigures:
    stack: Sample
    comparisons: list[Comparison]
    delivery_delays: str
    slow: tuple[Sample, Sample]
    slow_delivery: str
    profiles: dict[str, list[tuple[str, float]]]


async def settle(database_url: str) -> None:
    """Wait, a while at most, until phonegate's dispatcher has caught up (nothing waiting
    or being sent, no feedback due), so a run does not pay for the one before it."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + SETTLE_SECONDS
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                if not await conn.scalar(OUTBOX_BUSY):
                    return
            await asyncio.sleep(0.25)
        log.info("the outbox had not settled after %g s", SETTLE_SECONDS)
    finally:
        await engine.dispose()


class Bench:
    def __init__(self, plan: Plan, fake: FakeTwilio, work_dir: Path) -> None:
        self.plan, self.fake, self.work_dir = plan, fake, work_dir
        self.profiles: dict[str, list[tuple[str, float]]] = {}
        self._outboxes: dict[int, str] = {}  # phonegate server pid -> its database
        self.last_busy = 0.0  # the machine's busy share during the last measured run

    async def measure(
        self, server: Server, op: Operation, available: int, label: str, profiled: bool = False
    ) -> Sample:
        """``op`` on ``server`` within the plan's bounds, with ``available`` operations at most
        (the warm-up's included); sampled by py-spy when the plan and ``profiled`` say so."""
        if server.pid in self._outboxes:
            await settle(self._outboxes[server.pid])
        self.fake.forget()
        bounds = Bounds(
            self.plan.concurrency,
            max(available - self.plan.warmup, 0),
            self.plan.duration,
            min(self.plan.warmup, available),
        )
        ticks = procstat.machine_ticks()
        if self.plan.profile and profiled:
            out = self.work_dir / f"profile-{label.replace(' ', '-')}.txt"
            async with profiles.sampling(server.pid, out) as shares:
                sample = await run(server.host, server.port, op, bounds, server.pid)
            self.profiles[label] = shares
        else:
            sample = await run(server.host, server.port, op, bounds, server.pid)
        self.last_busy = procstat.busy_share(ticks, procstat.machine_ticks())
        log.info(
            "%-38s %8.1f/s  p50 %6.1f ms  CPU %5.2f ms/op  errors %d  (load process %.0f%% of a core)",
            f"{label} on {server.label}",
            sample.per_second,
            1000 * percentile(sample.latencies, 50),
            sample.cpu_per_op * 1000,
            sample.errors,
            100 * sample.client_share,
        )
        return sample

    async def challenges(
        self, server: Server, pop: Population, label: str = "challenge", profiled: bool = False
    ) -> tuple[Sample, list[scenarios.Prepared], list[float]]:
        """A challenge run, then the codes it sent (waiting for their delivery)."""
        issued: list[scenarios.Issued] = []
        sample = await self.measure(
            server, scenarios.challenge(pop, issued), len(pop.mfa_tokens), label, profiled
        )
        prepared, delays = await scenarios.collect_codes(self.fake, pop, issued, CODE_WAIT)
        return sample, prepared, delays

    @asynccontextmanager
    async def serving(
        self,
        label: str,
        command: list[str],
        pop: Population,
        workers: int = 1,
        redis: str | None = None,
    ) -> AsyncIterator[Server]:
        """A server for the block's duration; phonegate's (not a ceiling's) is let settle
        before each run."""
        data_dir = self.work_dir / label.replace(" ", "-")
        data_dir.mkdir(exist_ok=True)
        env = servers.environment(pop, data_dir, redis)
        server = await servers.start(label, command, env, workers, data_dir)
        if "phonegate.cli" in command:
            self._outboxes[server.pid] = pop.database_url
        try:
            yield server
        finally:
            await server.stop()

    # -- SQLite ----------------------------------------------------------------------------

    def _copy(self, pop: Population, base: Path, name: str) -> Population:
        target = self.work_dir / name / "phonegate.db"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(base, target)
        return replace(pop, database_url=f"sqlite+aiosqlite:///{target}")

    async def sqlite(self) -> SqliteFigures:
        base = self.work_dir / "base.db"
        pop = await populate(
            f"sqlite+aiosqlite:///{base}",
            self.work_dir,
            self.plan.sqlite,
            self.fake.provider_config,
        )
        with sqlite3.connect(base) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copies need every page in the file
        ceiling_pop, phonegate_pop = (
            self._copy(pop, base, "ceiling-db"),
            self._copy(pop, base, "phonegate-db"),
        )
        port = servers.free_port
        async with (
            self.serving(
                "stack ceiling", servers.ceiling_command("stack", port(), 1), pop
            ) as stack,
            self.serving(
                "work ceiling", servers.ceiling_command("work", port(), 1), ceiling_pop
            ) as ceiling,
            self.serving(
                "phonegate", servers.phonegate_command(port(), 1), phonegate_pop
            ) as phonegate,
        ):
            stack_sample = await self.measure(stack, scenarios.stack(), 10**9, "stack")
            comparisons, delays = await self._compare_all(
                ceiling, ceiling_pop, phonegate, phonegate_pop
            )
            slow, delivery = await self._slow_provider(phonegate, phonegate_pop)
        return SqliteFigures(stack_sample, comparisons, delays, slow, delivery, self.profiles)

    async def _compare_all(
        self, ceiling: Server, ceiling_pop: Population, phonegate: Server, pop: Population
    ) -> tuple[list[Comparison], str]:
        c_challenge, c_prepared, c_delays = await self.challenges(ceiling, ceiling_pop)
        p_challenge, p_prepared, p_delays = await self.challenges(phonegate, pop, profiled=True)
        delays = (
            "During the challenge runs the codes reached the provider a median "
            f"{ms(percentile(p_delays, 50))} ms (p99 {ms(percentile(p_delays, 99))} ms) after "
            f"phonegate's answer, and {ms(percentile(c_delays, 50))} ms (p99 "
            f"{ms(percentile(c_delays, 99))} ms) after the ceiling's."
        )
        c_verify = await self.measure(
            ceiling, scenarios.verify(ceiling_pop, c_prepared), len(c_prepared), "verify"
        )
        p_verify = await self.measure(
            phonegate, scenarios.verify(pop, p_prepared), len(p_prepared), "verify", True
        )
        found = [
            Comparison("challenge", "request", p_challenge, c_challenge, 0.5),
            Comparison("verify", "request", p_verify, c_verify, 0.5),
        ]
        flows: list[
            tuple[str, str, float | None, Callable[[Population, FakeTwilio], Operation], int]
        ] = [
            ("full MFA login", "login", 0.8, scenarios.login, pop.enrolled.count),
            ("passwordless", "login", 0.5, scenarios.passwordless, pop.sms.count),
            ("enrollment", "enrollment", None, scenarios.enrollment, pop.enrollees.count),
        ]
        for name, unit, target, scenario, available in flows:
            on_ceiling = await self.measure(
                ceiling, scenario(ceiling_pop, self.fake), available, name
            )
            on_phonegate = await self.measure(
                phonegate, scenario(pop, self.fake), available, name, profiled=True
            )
            if name in TWICE:
                # phonegate again, then the ceiling: a drift of the machine during the four
                # runs weighs on both sides alike.
                again = await self.measure(phonegate, scenario(pop, self.fake), available, name)
                on_phonegate = merged(on_phonegate, again)
                again = await self.measure(
                    ceiling, scenario(ceiling_pop, self.fake), available, name
                )
                on_ceiling = merged(on_ceiling, again)
            found.append(Comparison(name, unit, on_phonegate, on_ceiling, target))
        return found, delays

    async def _slow_provider(
        self, phonegate: Server, pop: Population
    ) -> tuple[tuple[Sample, Sample], str]:
        instant, _, _ = await self.challenges(phonegate, pop, "challenge, instant provider")
        self.fake.delay = self.plan.slow_provider_seconds
        received = self.fake.received
        started = time.perf_counter()
        issued: list[scenarios.Issued] = []
        slow = await self.measure(
            phonegate,
            scenarios.challenge(pop, issued),
            len(pop.mfa_tokens),
            "challenge, 2 s provider",
        )
        elapsed = time.perf_counter() - started
        delivered = self.fake.received - received
        self.fake.delay = 0.0
        summary = (
            f"With the {self.plan.slow_provider_seconds:g} s provider, {len(issued):,} challenges were "
            f"answered in {elapsed:.1f} s and {delivered:,} of their messages reached the provider "
            f"in that time ({delivered / elapsed:.1f} per second): the answer never waits for the "
            "provider, but the outbox drains only as fast as the dispatcher's parallel sends allow."
        )
        return (instant, slow), summary

    # -- PostgreSQL + Redis ----------------------------------------------------------------
