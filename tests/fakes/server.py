"""A base for fake vendor servers: a real HTTP server on 127.0.0.1, in a thread of the test
process, that a test can make slow, failing or refusing.

Each vendor fake subclasses :class:`FakeServer`, builds its Starlette routes in ``routes()``,
and calls ``await self.accept(request)`` first in each handler: that records the request in
``self.received`` (one :class:`Received` each), then applies what the test asked for (a
delay, an error status for the next N requests, a hang past the client's timeout).

    with TwilioFake(...) as fake:           # starts, picks a free port
        fake.fail_next(503, times=1)       # next request answers 503
        fake.delay = 2.0                   # every request waits 2 s before answering
        fake.hang_next(times=1)            # next request never answers (client times out)
        fake.url                           # "http://127.0.0.1:<port>"
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None

    @property
    def params(self) -> dict[str, str]:
        """Each form field's first value."""
        return {name: values[0] for name, values in self.form.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FakeServer:
    # What a forced failure answers; vendor fakes override to use their own error shape.
    def error_response(self, status: int) -> Response:
        return JSONResponse({"status": status, "message": "forced failure"}, status_code=status)

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        self.delay = 0.0
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._hangs = 0
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- what a test controls -------------------------------------------------------------

    def fail_next(
        self, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            self._failures.extend([(status, headers or {})] * times)

    def hang_next(self, *, times: int = 1) -> None:
        with self._lock:
            self._hangs += times

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._hangs = 0
            self.delay = 0.0
            self.received.clear()

    # -- for subclasses ------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    async def record(self, request: Request) -> Received:
        body = await request.body()
        entry = Received(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            entry.form = parse_qs(body.decode(), keep_blank_values=True)
        elif "json" in ctype and body:
            entry.json = json.loads(body)
        self.received.append(entry)
        return entry

    async def accept(self, request: Request) -> tuple[Received, Response | None]:
        """Record the request, then apply the test's instructions: a response returned with
        it is the answer. Recording first keeps even a forced failure in ``received``."""
        entry = await self.record(request)
        return entry, await self.misbehave(request)

    async def misbehave(self, request: Request) -> Response | None:
        """Apply the test's instructions; a response returned here is the answer."""
        with self._lock:
            hang = self._hangs > 0
            if hang:
                self._hangs -= 1
            failure = self._failures.pop(0) if (not hang and self._failures) else None
        if self.delay:
            await asyncio.sleep(self.delay)
        if hang:
            await asyncio.sleep(60)
        if failure is not None:
            status, headers = failure
            response = self.error_response(status)
            response.headers.update(headers)
            return response
        return None

    # -- lifecycle -----------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def start(self) -> FakeServer:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP Basic auth (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The user and password of a well-formed HTTP Basic ``authorization`` header (headers
    as :class:`Received` keeps them, lower-case), else None."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:  # not base64, or not UTF-8
        return None
    return user, password
