"""A log stream receiver doing what ``phonegate/logstream/sinks.py`` tells one to do: check
the Authorization header and the ``X-Phonegate-Signature`` over the raw body (with
``verify_signature``, keyed by the stream the ``X-Phonegate-Batch`` header names) and answer
401 when either is wrong, then parse the batch (JSON lines, array or object) and answer 200.

``received`` holds every request; ``batches`` the verified ones, in arrival order, and
``events`` every entry of those. Nothing is de-duplicated: a test sees each delivery attempt.
Beyond the base controls (``fail_next``, ``hang_next``, ``delay``): ``lose_answers(n)``
records the next n batches and then answers 500, as a receiver that stored a batch and
crashed before answering; ``stop()`` refuses connections until ``start()`` again (same port).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from phonegate.logstream.sinks import BATCH_HEADER
from phonegate.providers.webhook import SIGNATURE_HEADER, verify_signature
from tests.fakes.server import FakeServer, Received


@dataclass
class Batch:
    batch_id: str
    entries: list[dict[str, Any]]
    headers: dict[str, str]
    body: bytes

    @property
    def log_ids(self) -> list[str]:
        return [e["log_id"] for e in self.entries]


def parse_entries(body: bytes) -> list[dict[str, Any]]:
    """A batch in any of the three content formats."""
    try:
        whole = json.loads(body)
    except ValueError:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


class LogReceiver(FakeServer):
    PATH = "/logs"

    def __init__(self, *, authorization: str | None = None) -> None:
        super().__init__()
        self.authorization = authorization
        self.secrets: dict[str, str] = {}  # stream id -> signing secret
        self.batches: list[Batch] = []
        self._lost = 0
        self._state = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self.url + self.PATH

    @property
    def events(self) -> list[dict[str, Any]]:
        return [entry for batch in self.batches for entry in batch.entries]

    def trust(self, stream_id: str, signing_secret: str) -> None:
        self.secrets[stream_id] = signing_secret

    def lose_answers(self, times: int = 1) -> None:
        with self._state:
            self._lost += times

    def reset(self) -> None:
        super().reset()
        self.batches.clear()

    def error_response(self, status: int) -> Response:
        return JSONResponse({"error": f"forced failure {status}"}, status_code=status)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.PATH, self.receive, methods=["POST"])]

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        stream_id = headers.get(BATCH_HEADER.lower(), "").partition(":")[0]
        secret = self.secrets.get(stream_id)
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        return secret is not None and verify_signature(secret, signature, body, now=time.time())

    async def receive(self, request: Request) -> Response:
        forced = await self.misbehave(request)
        entry = Received(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        self.received.append(entry)
        if forced is not None:
            return forced
        if self.authorization is not None and entry.headers.get("authorization") != (
            self.authorization
        ):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if not self.verify(entry.headers, entry.body):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        self.batches.append(
            Batch(
                batch_id=entry.headers.get(BATCH_HEADER.lower(), ""),
                entries=parse_entries(entry.body),
                headers=entry.headers,
                body=entry.body,
            )
        )
        with self._state:
            lost = self._lost > 0
            self._lost -= lost
        if lost:
            return JSONResponse({"error": "stored, then crashed"}, status_code=500)
        return JSONResponse({"ok": True})
