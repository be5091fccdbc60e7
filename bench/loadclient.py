"""The load generator: keep-alive HTTP/1.1 connections and a bounded closed-loop driver.

The client shares the machine's two cores with the server, so it must cost far less per
request than the cheapest server answer (the stack ceiling's): a general-purpose client
such as httpx spends more CPU per request than uvicorn does answering it, and would measure
itself. Each connection here writes a pre-built request and parses the answer with
httptools (the parser uvicorn uses), nothing more.

A run has ``concurrency`` virtual users, each with its own connection, taking operation
numbers from one counter until ``count`` operations were started or ``duration`` seconds
passed; an operation (one request, or a whole login) reports its own latency.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httptools

from bench import procstat


class OperationFailed(Exception):
    """An answer the scenario did not expect (its status and the start of its body)."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def expect(self, status: int) -> Any:
        if self.status != status:
            raise OperationFailed(f"HTTP {self.status}: {self.body[:200]!r}")
        return self.json()


class _ResponseReader:
    """httptools callbacks collecting one response."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One keep-alive connection; requests on it run one after another."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.requests = 0

    async def open(self) -> Connection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def post(
        self, path: str, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> tuple[Reply, float]:
        """POST ``payload`` as JSON; returns the reply and its latency in seconds."""
        body = json.dumps(payload).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        return await self._exchange(head.encode() + body)

    async def get(self, path: str) -> tuple[Reply, float]:
        return await self._exchange(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    async def _exchange(self, request: bytes) -> tuple[Reply, float]:
        if self._writer is None or self._reader is None:
            await self.open()
        assert self._writer is not None and self._reader is not None
        started = time.perf_counter()
        self._writer.write(request)
        collected = _ResponseReader()
        parser = httptools.HttpResponseParser(collected)
        while not collected.complete:
            data = await self._reader.read(65536)
            if not data:
                await self.close()
                raise ConnectionError("the server closed the connection")
            parser.feed_data(data)
        self.requests += 1
        reply = Reply(parser.get_status_code(), b"".join(collected.chunks))
        return reply, time.perf_counter() - started


# An operation: given its connection and its number, do the work and return its latency.
Operation = Callable[[Connection, int], Awaitable[float]]


@dataclass
class Sample:
    """What one run measured; latencies in seconds, CPU in seconds."""

    ops: int = 0
    requests: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def per_second(self) -> float:
        return self.ops / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_per_op(self) -> float:
        return self.server_cpu / self.ops if self.ops else 0.0

    @property
    def client_share(self) -> float:
        """The load process's CPU as a share of one core over the run."""
        return self.client_cpu / self.elapsed if self.elapsed else 0.0


def merged(first: Sample, second: Sample) -> Sample:
    """Two runs of one operation on one server, as one run."""
    return Sample(
        ops=first.ops + second.ops,
        requests=first.requests + second.requests,
        elapsed=first.elapsed + second.elapsed,
        latencies=first.latencies + second.latencies,
        errors=first.errors + second.errors,
        error_examples=(first.error_examples + second.error_examples)[:5],
        server_cpu=first.server_cpu + second.server_cpu,
        client_cpu=first.client_cpu + second.client_cpu,
    )


@dataclass(frozen=True, slots=True)
class Bounds:
    concurrency: int
    count: int  # measured operations at most
    duration: float  # seconds at most
    warmup: int = 0  # operations before the measurement starts


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _drive(
    conns: list[Connection],
    op: Operation,
    numbers: itertools.count[int],
    stop: int,
    deadline: float,
) -> Sample:
    sample = Sample()

    async def user(conn: Connection) -> None:
        for number in numbers:
            if number >= stop or time.perf_counter() >= deadline:
                return
            before = conn.requests
            try:
                sample.latencies.append(await op(conn, number))
                sample.ops += 1
            except (OperationFailed, ConnectionError, TimeoutError) as exc:
                sample.errors += 1
                if len(sample.error_examples) < 3:
                    sample.error_examples.append(f"{type(exc).__name__}: {exc}"[:300])
                await conn.close()  # a half-read answer must not be read as the next one
            sample.requests += conn.requests - before

    started = time.perf_counter()
    await asyncio.gather(*(user(conn) for conn in conns))
    sample.elapsed = time.perf_counter() - started
    return sample


async def run(
    host: str, port: int, op: Operation, bounds: Bounds, server_pid: int | None = None
) -> Sample:
    """Warm up, then measure ``op`` within ``bounds``; CPU is the server tree's (when its pid
    is given) and this process's, over the measured part only."""
    conns = [await Connection(host, port).open() for _ in range(bounds.concurrency)]
    numbers = itertools.count()
    try:
        if bounds.warmup:
            await _drive(conns, op, numbers, bounds.warmup, float("inf"))
        numbers = itertools.count(bounds.warmup)
        server_before = procstat.cpu_seconds(server_pid) if server_pid else 0.0
        client_before = _own_cpu()
        deadline = time.perf_counter() + bounds.duration
        sample = await _drive(conns, op, numbers, bounds.warmup + bounds.count, deadline)
        sample.client_cpu = _own_cpu() - client_before
        if server_pid:
            sample.server_cpu = procstat.cpu_seconds(server_pid) - server_before
        return sample
    finally:
        for conn in conns:
            await conn.close()
