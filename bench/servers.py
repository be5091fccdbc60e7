"""Server processes for the benchmark: phonegate itself (``phonegate serve``) and the
ceilings (``python -m bench.ceilings``), each on its own loopback port, logging to a file."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procstat
from bench.dataset import Population
from bench.loadclient import Connection

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def environment(pop: Population, data_dir: Path, redis_url: str | None = None) -> dict[str, str]:
    """phonegate's configuration as an operator would set it for production, with outbound
    requests allowed to the fake provider on 127.0.0.1."""
    env = {
        **os.environ,
        "PHONEGATE_ENV": "production",
        "PHONEGATE_DATABASE_URL": pop.database_url,
        "PHONEGATE_SECRET_KEYS": pop.secret_keys,
        "PHONEGATE_DATA_DIR": str(data_dir),
        "PHONEGATE_OUTBOUND_ALLOW_PRIVATE": "true",
        "PHONEGATE_HOST": HOST,
    }
    env.pop("PHONEGATE_REDIS_URL", None)
    if redis_url:
        env["PHONEGATE_REDIS_URL"] = redis_url
    return env


def phonegate_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "phonegate.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def ceiling_command(kind: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.ceilings",
        kind,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@dataclass
class Server:
    label: str
    port: int
    workers: int
    process: asyncio.subprocess.Process
    log: Path
    host: str = HOST

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_per_worker(self) -> list[int]:
        return [procstat.rss_bytes(pid) for pid in procstat.workers(self.pid)]

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def _ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.returncode is not None:
                raise RuntimeError(f"{self.label} exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} did not start in {START_TIMEOUT:g} s")
            serving = len(procstat.workers(self.pid)) >= self.workers
            try:
                conn = await Connection(self.host, self.port).open()
                try:
                    await asyncio.wait_for(conn.get("/healthz"), 5)
                finally:
                    await conn.close()
                if serving:
                    return
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def start(
    label: str, command: list[str], env: dict[str, str], workers: int, log_dir: Path
) -> Server:
    log = log_dir / f"{label.replace(' ', '-')}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    server = Server(label, int(command[command.index("--port") + 1]), workers, process, log)
    try:
        await server._ready()
    except BaseException:
        await server.stop()
        raise
    return server
