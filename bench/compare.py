"""A quick look at a change: chosen SQLite scenarios on the work ceiling and on phonegate,
back to back, printed as shares, nothing written.

    python -m bench.compare [challenge] [verify] [login] [--rounds N] [--users N] [--profile]

``make bench`` is the measurement of record; this takes a minute or two per round and is
for comparing commits while working. ``--profile`` samples phonegate with py-spy in the
last round and prints where its Python time went.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import tempfile
from pathlib import Path

import uvloop

from bench import profiles, scenarios, servers
from bench.dataset import Sizes, populate
from bench.fake_provider import FakeTwilio
from bench.runner import Bench, Plan

SCENARIOS = ("challenge", "verify", "login")


async def compare(chosen: list[str], rounds: int, users: int, profile: bool) -> None:
    sizes = Sizes(enrolled=users, enrollees=10, sms=10, tokens=users)
    plan = Plan(sqlite=sizes, profile=profile)
    fake = await FakeTwilio().start()
    try:
        with tempfile.TemporaryDirectory(prefix="phonegate-compare-") as tmp:
            bench = Bench(plan, fake, Path(tmp))
            base = Path(tmp) / "base.db"
            pop = await populate(
                f"sqlite+aiosqlite:///{base}", Path(tmp), sizes, fake.provider_config
            )
            with sqlite3.connect(base) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cpop, ppop = bench._copy(pop, base, "ceiling"), bench._copy(pop, base, "phonegate")
            port = servers.free_port
            async with (
                bench.serving(
                    "work ceiling", servers.ceiling_command("work", port(), 1), cpop
                ) as c,
                bench.serving("phonegate", servers.phonegate_command(port(), 1), ppop) as p,
            ):
                for round_ in range(rounds):
                    sampled = profile and round_ == rounds - 1
                    shares: dict[str, float] = {}
                    if "challenge" in chosen or "verify" in chosen:
                        cs, cprep, _ = await bench.challenges(c, cpop)
                        ps, pprep, _ = await bench.challenges(p, ppop, profiled=sampled)
                        shares["challenge"] = ps.per_second / cs.per_second
                        if "verify" in chosen:
                            cv = await bench.measure(
                                c, scenarios.verify(cpop, cprep), len(cprep), "verify"
                            )
                            pv = await bench.measure(
                                p, scenarios.verify(ppop, pprep), len(pprep), "verify", sampled
                            )
                            shares["verify"] = pv.per_second / cv.per_second
                    if "login" in chosen:
                        cl = await bench.measure(c, scenarios.login(cpop, fake), users, "login")
                        pl = await bench.measure(
                            p, scenarios.login(ppop, fake), users, "login", sampled
                        )
                        shares["login"] = pl.per_second / cl.per_second
                    line = ", ".join(
                        f"{k} {100 * v:.0f}%" for k, v in shares.items() if k in chosen
                    )
                    print(f"round {round_ + 1}: {line} of the work ceiling")
            for label, found in bench.profiles.items():
                print(f"where phonegate's Python time went ({label}):")
                for category, share in found:
                    print(f"  {100 * share:4.0f}% {category}")
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="py-spy in the last round")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {SCENARIOS}")
    if args.profile and profiles.py_spy() is None:
        parser.error("--profile needs py-spy (pip install py-spy, or set PY_SPY)")
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    uvloop.install()
    asyncio.run(compare(args.scenarios or list(SCENARIOS), args.rounds, args.users, args.profile))


if __name__ == "__main__":
    main()
