"""``make bench``: load phonegate over loopback and write docs/benchmarks.md.

    python -m bench.run [--output docs/benchmarks.md] [--quick] [--no-postgres]

See the package docstring (bench/__init__.py) for the method; ``--quick`` is a short smoke run
(seconds per scenario, small databases) whose figures mean little.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from bench import course, profiles, report, runner

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}, Python {platform.python_version()}"


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (
        " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def _command() -> str:
    typed = "python -m bench.run " + shlex.join(sys.argv[1:])
    return f"make bench ({typed.strip()})" if os.environ.get("MAKELEVEL") else typed.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="a smoke run of a minute or so")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PHONEGATE_BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        help="a server where throwaway databases may be created (default %(default)s)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("PHONEGATE_BENCH_REDIS_URL", DEFAULT_REDIS)
    )
    parser.add_argument("--soak-requests", type=int, help="requests before the last memory reading")
    parser.add_argument(
        "--profile", action="store_true", help="sample phonegate with py-spy in each scenario"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    plan = replace(
        runner.QUICK if args.quick else runner.Plan(),
        profile=args.profile,
        **({"soak_requests": args.soak_requests} if args.soak_requests else {}),
    )
    if plan.profile and profiles.py_spy() is None:
        parser.error("--profile needs py-spy (pip install py-spy, or set PY_SPY)")
    started = datetime.now(UTC)
    uvloop.install()
    figures = asyncio.run(
        course.measure_all(plan, None if args.no_postgres else args.postgres_url, args.redis_url)
    )
    result = report.Report(
        date=started.strftime("%Y-%m-%d %H:%M UTC"),
        machine=_machine(),
        commit=_commit(),
        command=_command(),
        concurrency=plan.concurrency,
        stack=figures.sqlite.stack,
        scenarios=figures.sqlite.comparisons,
        delivery_delays=figures.sqlite.delivery_delays,
        argon2_seconds=figures.argon2_seconds,
        argon2_choices=figures.argon2_choices,
        slow=figures.sqlite.slow,
        slow_delivery=figures.sqlite.slow_delivery,
        profiles=figures.sqlite.profiles,
        notes=figures.notes,
    )
    if figures.postgres is not None:
        result.scaling, result.memory = figures.postgres.scaling, figures.postgres.memory
        result.large, result.plans = figures.postgres.large, figures.postgres.plans
        result.scaling_note = figures.postgres.scaling_note
        result.large_sizes = plan.large
    report.write(args.output, report.render(result))
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    print(f"wrote {args.output} in {minutes:.1f} minutes")


if __name__ == "__main__":
    main()
