"""A real phonegate server on a loopback port (uvicorn in a thread) for out-of-process clients."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from phonegate.bootstrap import Credentials, bootstrap
from phonegate.container import Container
from phonegate.settings import Settings
from phonegate.web.app import create_app
from tests.conftest import make_settings


@dataclass
class LiveServer:
    url: str
    domain: str
    creds: Credentials


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    port = _free_port()
    settings = make_settings(database_url, tmp_path, port=port, dispatch_interval_seconds=0.2)
    creds = asyncio.run(_bootstrap(settings))
    config = uvicorn.Config(
        create_app(Container(settings)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("phonegate test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", domain=f"127.0.0.1:{port}", creds=creds)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _bootstrap(settings: Settings) -> Credentials:
    # Its own event loop and engine; the server builds another in the server's loop.
    async with Container(settings) as c:
        return await bootstrap(c)


def wait_for_code(server: LiveServer, token: str, recipient: str, seen: set[str]) -> str:
    """Poll the sandbox inbox (delivery happens after the response) for a new message."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{server.url}/api/v2/sandbox/messages",
            params={"recipient": recipient},
            headers={"authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        for message in r.json():
            if message["id"] not in seen:
                seen.add(message["id"])
                code: str = message["code"]
                return code
        time.sleep(0.05)
    raise AssertionError("no code arrived in the sandbox inbox")
