"""`phonegate serve --workers N` on Linux: a socket per worker (SO_REUSEPORT), so the kernel
spreads connections over the workers; a worker that dies is replaced; SIGTERM stops all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from phonegate.bootstrap import bootstrap
from phonegate.container import Container
from phonegate.serving import reuse_port_supported
from tests.conftest import make_settings
from tests.e2e.conftest import _free_port

pytestmark = pytest.mark.skipif(not reuse_port_supported(), reason="SO_REUSEPORT is Linux's")


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def sockets_of(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed while listing
            count += os.readlink(fd).startswith("socket:")
    return count


def wait_until(check: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'phonegate.db'}"
    settings = make_settings(database_url, tmp_path)
    from phonegate.storage.migrate import upgrade

    upgrade(database_url)

    async def _boot() -> None:
        async with Container(settings) as c:
            await bootstrap(c)

    asyncio.run(_boot())
    port = _free_port()
    env = {
        **os.environ,
        "PHONEGATE_ENV": "test",
        "PHONEGATE_DATABASE_URL": database_url,
        "PHONEGATE_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "PHONEGATE_DATA_DIR": str(tmp_path),
        "PHONEGATE_LOG_LEVEL": "warning",
        "PHONEGATE_BACKGROUND_IN_SERVER": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "phonegate.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(url) or process.poll() is not None)
        assert process.poll() is None, "the server exited"
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=40)


def test_connections_are_spread_over_the_workers(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = server
    workers = children(process.pid)
    assert len(workers) == 2
    before = {pid: sockets_of(pid) for pid in workers}
    # 16 keep-alive connections: the chance that one worker gets every one is 2 in 65 536
    # when the kernel balances, and near certain when an idle worker accepts them all.
    clients = [httpx.Client(base_url=url) for _ in range(16)]
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200
        gained = {pid: sockets_of(pid) - before[pid] for pid in workers}
    finally:
        for client in clients:
            client.close()
    assert all(n >= 1 for n in gained.values()), gained
    assert sum(gained.values()) >= 16


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = server
    first, second = children(process.pid)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: len(children(process.pid)) == 2 and first not in children(process.pid))
    assert second in children(process.pid)
    wait_until(lambda: healthy(url))
    for _ in range(8):  # both sockets answer again, the new worker's too
        with httpx.Client(base_url=url) as client:
            assert client.get("/healthz").status_code == 200
    workers = children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
