"""The PostgreSQL + Redis half of a run: the challenge on one worker process and on two,
the memory soak on two, and verify on a small and a large user base, whose statements are
then explained (``bench.plans``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce

import asyncpg  # type: ignore[import-untyped]
import redis.asyncio as redis
from sqlalchemy.engine import make_url

from bench import plans, procstat, scenarios, servers
from bench.dataset import (
    Population,
    Sizes,
    create_postgres_database,
    drop_postgres_database,
    populate,
)
from bench.loadclient import Sample, merged
from bench.runner import Bench
from bench.servers import Server
from phonegate.storage.db import normalize_url


@dataclass
class PostgresFigures:
    scaling: tuple[Sample, Sample]
    memory: list[tuple[int, list[int]]]
    large: tuple[Sample, Sample]
    plans: list[tuple[str, str]]
    scaling_note: str


async def unreachable(postgres_url: str, redis_url: str) -> str | None:
    """Why the PostgreSQL part cannot run, or None."""
    try:
        conn = await asyncpg.connect(
            make_url(normalize_url(postgres_url))
            .set(drivername="postgresql")
            .render_as_string(False),
            timeout=5,
        )
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {postgres_url} is not reachable ({type(exc).__name__})"
    client = redis.from_url(redis_url)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        return f"Redis at {redis_url} is not reachable ({type(exc).__name__})"
    finally:
        await client.aclose()
    return None


async def measure(bench: Bench, admin_url: str, redis_url: str) -> PostgresFigures:
    """The challenge on one worker and on two, the soak on two, verify small and large."""
    url = await create_postgres_database(admin_url, "scale")
    try:
        pop = await populate(url, bench.work_dir, bench.plan.postgres, bench.fake.provider_config)
        # One worker, two, two, one: a drift of the machine weighs on both sides alike.
        runs: dict[int, list[Sample]] = {1: [], 2: []}
        busy: dict[int, list[float]] = {1: [], 2: []}
        split = ""
        for workers, repeats in ((1, 1), (2, 2), (1, 1)):
            command = servers.phonegate_command(servers.free_port(), workers)
            label = f"phonegate {workers}w"
            async with bench.serving(label, command, pop, workers, redis_url) as server:
                before = {pid: procstat.cpu_seconds(pid) for pid in procstat.workers(server.pid)}
                for _ in range(repeats):
                    sample, _, _ = await bench.challenges(server, pop, f"challenge, {workers}w")
                    runs[workers].append(sample)
                    busy[workers].append(bench.last_busy)
                if workers == 2:
                    used = [procstat.cpu_seconds(pid) - cpu for pid, cpu in before.items()]
                    split = " and ".join(f"{seconds:.1f}" for seconds in used)
                    memory = await _soak(bench, server, pop)
        scaling = [reduce(merged, runs[1]), reduce(merged, runs[2])]
        busy_one, busy_two = (sum(b) / len(b) for b in (busy[1], busy[2]))
    finally:
        await drop_postgres_database(admin_url, url)
    large = await _large(bench, admin_url, redis_url)
    cheaper = scaling[1].cpu_per_op < scaling[0].cpu_per_op
    note = (
        f"During the two-worker challenge runs the workers used {split} CPU seconds (each "
        f"accepts on its own SO_REUSEPORT socket; the kernel spreads the "
        f"{bench.plan.concurrency} keep-alive connections over them by a hash of their "
        "addresses). PostgreSQL, Redis, the load and the provider fake share the same "
        f"{procstat.CORES} cores. One worker is bound by its own interpreter (one core for "
        f"its Python), and the machine was {100 * busy_one:.0f}% busy; with two workers it "
        f"was {100 * busy_two:.0f}% busy. At one worker's cost per challenge "
        f"({1000 * scaling[0].cpu_per_op:.1f} ms of phonegate's CPU, and PostgreSQL's, "
        f"Redis's and the load's besides), the whole machine allows "
        f"{1 / busy_one if busy_one else float('inf'):.2f} x one worker's rate; two workers "
        f"cost {1000 * scaling[1].cpu_per_op:.1f} ms per challenge"
        + (" (they batch more at their higher rate)" if cheaper else "")
        + ". A second worker needs cores the database and the load do not use to reach 1.8 x."
    )
    return PostgresFigures((scaling[0], scaling[1]), memory, large[0], large[1], note)


async def _soak(bench: Bench, server: Server, pop: Population) -> list[tuple[int, list[int]]]:
    """Challenge and verify runs (each user once per run) until the plan's request count,
    noting each worker's resident memory before and after every run."""
    served, marks = 0, [(0, server.rss_per_worker())]
    soak = Bench(replace(bench.plan, duration=float("inf"), warmup=0), bench.fake, bench.work_dir)
    while served < bench.plan.soak_requests:
        sample, prepared, _ = await soak.challenges(server, pop, "soak challenge")
        served += sample.requests
        marks.append((served, server.rss_per_worker()))
        verify = scenarios.verify(pop, prepared)
        sample = await soak.measure(server, verify, len(prepared), "soak verify")
        served += sample.requests
        marks.append((served, server.rss_per_worker()))
    return marks


async def _large(
    bench: Bench, admin_url: str, redis_url: str
) -> tuple[tuple[Sample, Sample], list[tuple[str, str]]]:
    """verify on a small and on a large user base, same load; the large one's statements
    explained."""
    found: list[Sample] = []
    statements: list[tuple[str, str]] = []
    for users in bench.plan.large:
        url = await create_postgres_database(admin_url, f"u{users}")
        try:
            sizes = Sizes(
                enrolled=users,
                enrollees=10,
                sms=10,
                tokens=min(users, bench.plan.large_verifies + 2 * bench.plan.warmup),
            )
            pop = await populate(url, bench.work_dir, sizes, bench.fake.provider_config)
            command = servers.phonegate_command(servers.free_port(), 1)
            async with bench.serving(
                f"phonegate {users} users", command, pop, 1, redis_url
            ) as server:
                _, prepared, _ = await bench.challenges(server, pop, f"challenge, {users:,} users")
                found.append(
                    await bench.measure(
                        server,
                        scenarios.verify(pop, prepared),
                        len(prepared),
                        f"verify, {users:,} users",
                    )
                )
            if users == bench.plan.large[-1]:
                statements = await plans.explain(pop, bench.fake, bench.work_dir, redis_url)
        finally:
            await drop_postgres_database(admin_url, url)
    return (found[0], found[1]), statements
