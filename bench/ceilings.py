"""The two ceilings, as bare ASGI apps on phonegate's own server stack.

- ``stack``: answers every request with a small JSON: the limit of uvicorn, uvloop and
  httptools at this worker count.
- ``work``: answers the scenarios' endpoints (``/mfa/challenge``, ``/mfa/associate``,
  ``/passwordless/start``, the password, mfa-oob and passwordless/otp grants) doing only their
  irreducible work (``bench.ceiling_work``) on the database phonegate would use.

Run as ``python -m bench.ceilings {stack|work} --port N --workers W`` with phonegate's
environment (``PHONEGATE_DATABASE_URL``, ``PHONEGATE_SECRET_KEYS``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn

from bench.ceiling_db import open_database
from bench.ceiling_flow import Answer, Refused, Request
from bench.ceiling_work import Work
from bench.dataset import password_hasher
from phonegate.container import load_keyring
from phonegate.outbound import outbound_client
from phonegate.settings import Settings

Scope = dict[str, Any]
Receive = Any
Send = Any

# What `phonegate serve` passes to uvicorn (cli.py), so both run on the same stack.
SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "log_level": "warning",
}
_JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON_HEADERS})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def stack_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await _body(receive)
    await _answer(send, 200, {"status": "ok"})


class WorkApp:
    def __init__(self) -> None:
        self._work: Work | None = None

    async def _startup(self) -> Work:
        settings = Settings()
        keys = load_keyring(settings)
        db = await open_database(settings.resolved_database_url)
        http = outbound_client(allow_private=settings.outbound_allow_private)
        work = Work(db, keys, password_hasher(settings), http)
        await work.load_signing_key()
        return work

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._work = await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._work is not None:
                    await self._work.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self._work is not None
        headers = dict(scope["headers"])
        request = Request(
            path=scope["path"],
            body=json.loads(await _body(receive) or b"{}"),
            host=headers.get(b"host", b"").decode(),
            ip=scope["client"][0] if scope.get("client") else "unknown",
            authorization=headers.get(b"authorization", b"").decode(),
        )
        try:
            answer = await self._work.handle(request)
        except Refused as refused:
            answer = Answer(refused.status, {"error": refused.error})
        await _answer(send, answer.status, answer.body)
        if answer.after is not None:
            await answer.after()  # after the answer, as Starlette runs background tasks


def stack() -> Any:
    return stack_app


def work() -> WorkApp:
    return WorkApp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("stack", "work"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    options = {"host": "127.0.0.1", "port": args.port, **SERVER_OPTIONS}
    if args.workers > 1:
        uvicorn.run(f"bench.ceilings:{args.kind}", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(stack() if args.kind == "stack" else work(), **options)


if __name__ == "__main__":
    main()
