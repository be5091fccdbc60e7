"""A minimal Twilio Messaging fake for the benchmark (providers-wire.md §1.1-1.3 shapes).

phonegate's real ``twilio`` provider sends through it, so the dispatcher's whole HTTP path is
measured. It runs on the load process's event loop and hands each code to whoever waits for
that phone (``next_code``), so a scenario can type the code back like a user. The test suite's
``tests.fakes.twilio.TwilioFake`` validates every request against Twilio's OpenAPI files,
which costs more CPU per message than the server spends sending it; this one checks only
what a benchmark needs: Basic auth and the ``To``/``Body`` fields.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import socket
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

import uvicorn

ACCOUNT_SID = "AC" + "be9c4" * 6 + "be"
AUTH_TOKEN = "bench-auth-token-" + "7" * 15
FROM_NUMBER = "+15017122661"
_CODE = re.compile(r"\b\d{4,10}\b")

Scope = dict[str, Any]
Receive = Any
Send = Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FakeTwilio:
    """``POST /2010-04-01/Accounts/{sid}/Messages.json``; ``delay`` slows every answer."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.delay = 0.0
        self.received = 0
        self._codes: defaultdict[str, asyncio.Queue[tuple[str, float]]] = defaultdict(asyncio.Queue)
        self._expected_auth = (
            "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        )
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def provider_config(self) -> dict[str, str]:
        """The Guardian Twilio settings that point phonegate at this fake."""
        return {
            "sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from": FROM_NUMBER,
            "base_url": self.url,
        }

    async def next_code(self, phone: str, within: float = 15.0) -> tuple[str, float]:
        """The next code sent to ``phone`` and when it arrived (perf_counter seconds)."""
        return await asyncio.wait_for(self._codes[phone].get(), within)

    def waiting(self, phone: str) -> int:
        return self._codes[phone].qsize()

    def forget(self) -> None:
        """Drop every code not taken yet (between runs)."""
        self._codes.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        if headers.get(b"authorization", b"").decode() != self._expected_auth:
            await self._answer(send, 401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if not scope["path"].endswith("/Messages.json") or "To" not in form:
            await self._answer(send, 400, {"code": 21604, "message": "'To' required"})
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        found = _CODE.search(form.get("Body", ""))
        self.received += 1
        if found:
            self._codes[form["To"]].put_nowait((found.group(), time.perf_counter()))
        await self._answer(
            send,
            201,
            {"sid": "SM" + secrets.token_hex(16), "status": "queued", "to": form["To"]},
        )

    @staticmethod
    async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def start(self) -> FakeTwilio:
        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            http="httptools",
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
