"""A fake Mitto SMS API: ``POST /sms`` with the ``X-Mitto-API-Key`` header and a JSON body,
answering as Mitto does (providers-wire.md §2): HTTP 200 for every message it reads, with
``responseCode`` 0 and an id when sent, or the refusal's code and text when not; HTTP 401
for a bad key."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer

API_KEY = "fake-mitto-api-key-0123456789"

# Mitto refuses this receiver (responseCode 8), and fails internally on this one (1).
INVALID_NUMBER = "+41790000008"
INTERNAL_ERROR_NUMBER = "+41790000001"
# A well-formed sender Mitto does not accept for the account: responseCode 6.
REFUSED_SENDER = "Refused"

_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{3,11}|\d{3,14}")
_TYPES = ("auto", "gsm", "unicode", "binary")


@dataclass
class SentSms:
    id: str
    sender: str
    to: str
    text: str
    type: str
    reference: str | None
    validity: int | None


def _answer(code: int, text: str, *, status: int = 200, **extra: Any) -> JSONResponse:
    body = {
        "timestamp": datetime.now(UTC).isoformat(),
        "responseCode": code,
        "responseText": text,
        **extra,
    }
    return JSONResponse(body, status_code=status)


def _refusal(body: dict[str, Any]) -> JSONResponse | None:
    """Mitto's checks, in its code order."""
    if str(body.get("type", "Auto")).lower() not in _TYPES:
        return _answer(2, "Invalid type")
    if not body.get("text"):
        return _answer(3, "Empty message")
    if not body.get("from"):
        return _answer(5, "Empty sender")
    if not _SENDER.fullmatch(str(body["from"])) or body["from"] == REFUSED_SENDER:
        return _answer(6, "Invalid sender")
    to = str(body.get("to") or "")
    if not to:
        return _answer(7, "Empty receiver")
    if not to.isdigit() or f"+{to}" == INVALID_NUMBER:
        return _answer(8, "Invalid receiver")
    if f"+{to}" == INTERNAL_ERROR_NUMBER:
        return _answer(1, "Internal error")
    return None


class MittoFake(FakeServer):
    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.messages: list[SentSms] = []

    def reset(self) -> None:
        super().reset()
        self.messages.clear()

    def routes(self) -> list[BaseRoute]:
        return [Route("/sms", self.send_sms, methods=["POST"])]

    def error_response(self, status: int) -> Response:
        return _answer(1, "Internal error", status=status)

    async def send_sms(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        if entry.headers.get("x-mitto-api-key") != self.api_key:
            return PlainTextResponse("Unauthorized", status_code=401)
        try:
            body = json.loads(entry.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return PlainTextResponse("Bad Request", status_code=400)
        if (refusal := _refusal(body)) is not None:
            return refusal
        sent = SentSms(
            id=uuid.uuid4().hex,
            sender=body["from"],
            to=body["to"],
            text=body["text"],
            type=body.get("type", "Auto"),
            reference=body.get("reference"),
            validity=body.get("validity"),
        )
        self.messages.append(sent)
        return _answer(0, "SMS sent", id=sent.id, to=sent.to, textLength=len(sent.text))
