"""A fake of an operator's webhook receiver, doing what phonegate's docs tell one to do: check
the Authorization header and the ``X-Phonegate-Signature`` (with ``verify_signature``) and
answer 401 when either is wrong, then answer 202 ``{"id": "wh_<n>"}``.

``received`` holds every request; ``accepted`` the ones that passed the checks and
``issued`` the id each was given. ``fail_next(status)`` answers ``{"error": …}``.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from phonegate.providers.webhook import SIGNATURE_HEADER, verify_signature
from tests.fakes.server import FakeServer, Received


class WebhookFake(FakeServer):
    PATH = "/hooks/phone"

    def __init__(self, *, signing_secret: str, authorization: str) -> None:
        super().__init__()
        self.signing_secret = signing_secret
        self.authorization = authorization
        self.accepted: list[Received] = []
        self.issued: list[str] = []

    @property
    def endpoint(self) -> str:
        return self.url + self.PATH

    def reset(self) -> None:
        super().reset()
        self.accepted.clear()
        self.issued.clear()

    def error_response(self, status: int) -> Response:
        return JSONResponse({"error": f"forced failure {status}"}, status_code=status)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.PATH, self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        if entry.headers.get("authorization") != self.authorization:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        signature = entry.headers.get(SIGNATURE_HEADER.lower(), "")
        if not verify_signature(self.signing_secret, signature, entry.body, now=time.time()):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        self.accepted.append(entry)
        message_id = f"wh_{len(self.issued) + 1}"
        self.issued.append(message_id)
        return JSONResponse({"id": message_id}, status_code=202)
