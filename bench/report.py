"""Figures and targets, rendered into docs/benchmarks.md.

The runner fills a :class:`Report`; :func:`render` turns it into Markdown, and
:func:`write` puts that between the generated-section markers of the file, keeping every
hand-written word outside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadclient import Sample

# Resident memory may move by allocator noise without growing.
GROWTH_TOLERANCE_MB = 5.0
# A load process busier than this (of one core) may be what limits a run.
CLIENT_BOUND = 0.8
BEGIN = "<!-- bench:generated:begin (written by `make bench`; edits here are lost) -->"
END = "<!-- bench:generated:end -->"


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), interpolating linearly between the closest ranks
    (the "inclusive" method of ``statistics.quantiles``); NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(p, 0.0), 100.0) / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, sample: Sample) -> Latency:
        values = sample.latencies
        return cls(percentile(values, 50), percentile(values, 95), percentile(values, 99))


@dataclass
class Comparison:
    """A scenario measured on phonegate and on its work ceiling."""

    name: str
    unit: str  # what one operation is: "request", "login", …
    phonegate: Sample
    ceiling: Sample
    target: float | None = None  # the share of the ceiling phonegate must reach

    @property
    def share(self) -> float:
        return ratio(self.phonegate.per_second, self.ceiling.per_second)


@dataclass(frozen=True, slots=True)
class Target:
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


@dataclass
class Report:
    date: str
    machine: str
    commit: str
    command: str
    concurrency: int
    stack: Sample
    scenarios: list[Comparison]
    delivery_delays: str  # how long codes took from the challenge's answer to the provider
    argon2_seconds: float  # CPU seconds of one password verification
    argon2_choices: list[tuple[int, int, float]]  # (passes, KiB, CPU seconds) per choice
    slow: tuple[Sample, Sample]  # challenge with an instant provider, with a 2 s one
    slow_delivery: str  # what happened to the slow provider's messages
    scaling: tuple[Sample, Sample] | None = None  # PostgreSQL + Redis: 1 worker, 2 workers
    scaling_note: str = ""
    memory: list[tuple[int, list[int]]] | None = None  # (requests so far, RSS per worker)
    large: tuple[Sample, Sample] | None = None  # verify with 1 000 users, with 1 000 000
    large_sizes: tuple[int, int] = (1000, 1000000)
    plans: list[tuple[str, str]] = field(default_factory=list)  # (statement, plan)
    profiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # by scenario
    notes: list[str] = field(default_factory=list)

    def targets(self) -> list[Target]:
        found = []
        for c in self.scenarios:
            if c.target is not None:
                found.append(
                    Target(
                        f"{c.name} ≥ {c.target:.0%} of its work ceiling",
                        f"{c.share:.0%}",
                        c.share >= c.target,
                    )
                )
        instant, slow = (Latency.of(s).p99 for s in self.slow)
        found.append(
            Target(
                "challenge p99 with a 2 s provider ≤ 1.1 x with an instant one",
                f"{ratio(slow, instant):.2f} x ({ms(slow)} ms vs {ms(instant)} ms)",
                slow <= 1.1 * instant,
            )
        )
        if self.scaling is None:
            found.append(Target("PostgreSQL + Redis: 2 workers ≥ 1.8 x 1 worker", "-", None))
        else:
            gain = ratio(self.scaling[1].per_second, self.scaling[0].per_second)
            found.append(
                Target(
                    "PostgreSQL + Redis: 2 workers ≥ 1.8 x 1 worker", f"{gain:.2f} x", gain >= 1.8
                )
            )
        if self.memory is None:
            found.append(Target("RSS per worker ≤ 150 MB after 100 000 requests", "-", None))
        else:
            last_n, last = self.memory[-1]
            half_n, half = min(self.memory, key=lambda mark: abs(mark[0] - last_n / 2))
            peak, growth = max(last) / 2**20, (max(last) - max(half)) / 2**20
            found.append(
                Target(
                    f"RSS per worker ≤ 150 MB after {last_n:,} requests, no growth after {half_n:,}",
                    f"{peak:.0f} MB, {growth:+.1f} MB",
                    peak <= 150 and growth <= GROWTH_TOLERANCE_MB,
                )
            )
        if self.large is None:
            found.append(Target("verify with 1 000 000 users ≤ 1.2 x with 1 000", "-", None))
        else:
            small, big = (Latency.of(s).p50 for s in self.large)
            found.append(
                Target(
                    f"verify p50 with {self.large_sizes[1]:,} users ≤ 1.2 x with {self.large_sizes[0]:,}",
                    f"{ratio(big, small):.2f} x ({ms(big)} ms vs {ms(small)} ms)",
                    big <= 1.2 * small,
                )
            )
        return found


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _sample_cells(sample: Sample) -> list[str]:
    latency = Latency.of(sample)
    return [
        f"{sample.per_second:,.1f}",
        ms(latency.p50),
        ms(latency.p95),
        ms(latency.p99),
        f"{sample.cpu_per_op * 1000:.2f}",
    ]


SAMPLE_HEAD = ["per s", "p50 ms", "p95 ms", "p99 ms", "CPU ms/op"]


def _errors(samples: Sequence[Sample]) -> list[str]:
    lines = []
    for sample in samples:
        for example in sample.error_examples:
            lines.append(f"- {sample.errors} error(s), e.g. `{example}`")
    return lines


def _scenario_table(report: Report) -> list[str]:
    lines = [
        _row(["scenario", "server", *SAMPLE_HEAD, "ops", "errors", "share of ceiling"]),
        _row(["---"] * 10),
        _row(
            [
                "stack (small JSON)",
                "bare ASGI",
                *_sample_cells(report.stack),
                report.stack.ops,
                report.stack.errors,
                "",
            ]
        ),
    ]
    for c in report.scenarios:
        for label, sample, share in (
            ("phonegate", c.phonegate, f"**{c.share:.0%}**"),
            ("work ceiling", c.ceiling, ""),
        ):
            lines.append(
                _row(
                    [
                        f"{c.name} (per {c.unit})",
                        label,
                        *_sample_cells(sample),
                        sample.ops,
                        sample.errors,
                        share,
                    ]
                )
            )
    return lines


def _profile_table(profiles: dict[str, list[tuple[str, float]]]) -> list[str]:
    scenarios = list(profiles)
    shares = {name: dict(found) for name, found in profiles.items()}
    totals: dict[str, float] = {}
    for found in shares.values():
        for category, share in found.items():
            totals[category] = totals.get(category, 0.0) + share
    lines = [
        _row(["where phonegate's Python time goes", *scenarios]),
        _row(["---"] * (len(scenarios) + 1)),
    ]
    for category in sorted(totals, key=totals.__getitem__, reverse=True):
        lines.append(_row([category, *(f"{shares[s].get(category, 0.0):.0%}" for s in scenarios)]))
    return lines


def _targets(report: Report) -> list[str]:
    lines = ["## Targets", "", _row(["target", "measured", "met"]), _row(["---"] * 3)]
    for t in report.targets():
        verdict = "-" if t.met is None else ("yes" if t.met else "**no**")
        lines.append(_row([t.goal, t.measured, verdict]))
    return [*lines, ""]


def _sqlite(report: Report) -> list[str]:
    lines = [
        "## Scenarios on SQLite, one process",
        "",
        "Latency is per operation (a login's is the sum of its three requests; the wait for the",
        "SMS is not in it). CPU is the server's (user + system, all its threads) per operation,",
        "delivery included.",
        "",
        *_scenario_table(report),
        "",
        report.delivery_delays,
        "",
    ]
    if report.stack.client_share > CLIENT_BOUND:
        lines += [
            f"During the stack run the load process used {report.stack.client_share:.0%} of a "
            "core: the stack's figure is a lower bound.",
            "",
        ]
    login = next((c for c in report.scenarios if c.name == "full MFA login"), None)
    if login is not None:
        login_cpu = login.phonegate.cpu_per_op
        lines += [
            f"argon2id costs {report.argon2_seconds * 1000:.1f} ms of CPU per password check, "
            f"{ratio(report.argon2_seconds, login_cpu):.0%} of a full MFA login's "
            f"{login_cpu * 1000:.1f} ms.",
            "",
        ]
    if report.profiles:
        lines += [
            "### Profile of phonegate in each scenario",
            "",
            "py-spy samples of the server during the runs above (`--profile`), of the thread",
            "holding the GIL only: SQLite's C code and the kernel are not in them. The sampler",
            "pauses the server, so this run's figures are lower than an unprofiled run's.",
            "",
            *_profile_table(report.profiles),
            "",
        ]
    return lines


def _argon2(report: Report) -> list[str]:
    lines = [
        "### argon2id: the cost of OWASP's equally strong parameter choices",
        "",
        _row(["passes (t)", "memory (m)", "CPU ms per check", "checks per second per core"]),
        _row(["---"] * 4),
    ]
    for passes, kib, seconds in report.argon2_choices:
        cells = [passes, f"{kib // 1024} MiB", f"{seconds * 1000:.1f}", f"{1 / seconds:.0f}"]
        lines.append(_row(cells))
    return [*lines, ""]


def _compared(title: str, first: str, rows: Sequence[tuple[object, Sample]]) -> list[str]:
    lines = [title, "", _row([first, *SAMPLE_HEAD]), _row(["---"] * (len(SAMPLE_HEAD) + 1))]
    lines += [_row([label, *_sample_cells(sample)]) for label, sample in rows]
    return [*lines, ""]


def _postgres(report: Report) -> list[str]:
    lines: list[str] = []
    if report.scaling is not None:
        one, two = report.scaling
        title = "## PostgreSQL + Redis: one worker process and two (challenge)"
        lines += [*_compared(title, "workers", [(1, one), (2, two)]), report.scaling_note, ""]
    if report.memory is not None:
        lines += [
            "## Resident memory per worker (PostgreSQL + Redis, 2 workers)",
            "",
            _row(["requests", "RSS per worker (MB)"]),
            _row(["---"] * 2),
        ]
        for count, rss in report.memory:
            lines.append(_row([f"{count:,}", ", ".join(f"{r / 2**20:.0f}" for r in rss)]))
        lines.append("")
    if report.large is not None:
        small, big = report.large
        title = "## Verify with many users (PostgreSQL + Redis, one worker)"
        sizes = [f"{n:,}" for n in report.large_sizes]
        lines += _compared(title, "enrolled users", [(sizes[0], small), (sizes[1], big)])
    if report.plans:
        lines += [
            f"### Query plans of a challenge and its verify, {report.large_sizes[1]:,} users",
            "",
            "Captured from the statements phonegate ran for one request of each, explained with",
            "their own parameters (`EXPLAIN`).",
            "",
        ]
        for statement, plan in report.plans:
            lines += ["```sql", statement, "```", "```", plan, "```", ""]
    return lines


def render(report: Report) -> str:
    instant, slow = report.slow
    heading = [
        f"Run on {report.date}: {report.machine}, commit `{report.commit}`, "
        f"concurrency {report.concurrency}.",
        "",
        f"Command: `{report.command}`",
        "",
    ]
    slow_rows = [("at once", instant), ("after 2 s", slow)]
    samples = [report.stack, *(s for c in report.scenarios for s in (c.phonegate, c.ceiling))]
    notes = [*_errors(samples), *(f"- {n}" for n in report.notes)]
    lines = [
        *heading,
        *_targets(report),
        *_sqlite(report),
        *_argon2(report),
        *_compared("## Challenge with a slow provider", "provider answers", slow_rows),
        report.slow_delivery,
        "",
        *_postgres(report),
        *(["## Notes from this run", "", *notes, ""] if notes else []),
    ]
    return "\n".join(lines)


def write(path: Path, generated: str) -> None:
    """Replace the generated section of ``path`` (or create the file around it)."""
    block = f"{BEGIN}\n\n{generated.strip()}\n\n{END}"
    if path.exists() and BEGIN in (text := path.read_text()) and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        path.write_text(before + block + after)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\n{block}\n")
