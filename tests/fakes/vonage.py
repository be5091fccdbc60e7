"""Vonage SMS API fake: ``POST /sms/json`` with Vonage's checks and its always-200 envelope.

Credentials travel in the body and are checked the way Vonage does (missing → status 2,
wrong → status 4 "Bad Credentials", both at HTTP 200). Magic numbers get Vonage's real
refusals; forced failures (``fail_next``) answer the HTTP status asked for, with the envelope.
``sent`` holds each accepted message's parameters plus the ``message-id`` issued.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer

BARRED_NUMBER = "447700900007"
NOT_WHITELISTED_NUMBER = "447700900029"
THROTTLED_NUMBER = "447700900001"

_REQUIRED = {
    "api_key": "Missing api_key",
    "api_secret": "Missing api_secret",
    "from": "Missing from param",
    "to": "Missing to param",
}
_TO = re.compile(r"\d{7,15}")


def envelope(*parts: dict[str, str]) -> JSONResponse:
    return JSONResponse({"message-count": str(len(parts)), "messages": list(parts)})


def refusal(status: str, error_text: str) -> JSONResponse:
    return envelope({"status": status, "error-text": error_text})


class VonageFake(FakeServer):
    def __init__(self, *, api_key: str, api_secret: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.sent: list[dict[str, str]] = []
        self.magic: dict[str, tuple[str, str]] = {
            BARRED_NUMBER: (
                "7",
                "The number you are trying to send messages to is on the list of barred numbers",
            ),
            NOT_WHITELISTED_NUMBER: ("29", "Non White-listed Destination - rejected"),
            THROTTLED_NUMBER: ("1", "Throughput Rate Exceeded - please wait [ 1000 ] and retry"),
        }

    def error_response(self, status: int) -> Response:
        part = (
            {"status": "1", "error-text": "Throttled"}
            if status == 429
            else {"status": "5", "error-text": "Internal Error"}
        )
        return JSONResponse({"message-count": "1", "messages": [part]}, status_code=status)

    def reset(self) -> None:
        super().reset()
        self.sent.clear()

    def dlr(
        self, message_id: str, status: str = "delivered", err_code: str = "0"
    ) -> dict[str, str]:
        """The delivery-receipt parameters Vonage would send for a message this fake took."""
        sent = next(m for m in self.sent if m["message-id"] == message_id)
        return {
            "msisdn": sent["to"],
            "to": sent["from"],
            "network-code": "23410",
            "messageId": message_id,
            "price": "0.03330000",
            "status": status,
            "scts": "2601011200",
            "err-code": err_code,
            "api-key": self.api_key,
            "message-timestamp": "2026-01-01 12:00:00",
            **({"client-ref": sent["client-ref"]} if "client-ref" in sent else {}),
        }

    def routes(self) -> list[BaseRoute]:
        return [Route("/sms/json", self._send, methods=["POST"])]

    async def _send(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        # Vonage takes the same parameters as a form or as JSON.
        params: dict[str, Any] = entry.params if entry.form else dict(entry.json or {})
        for name, error_text in _REQUIRED.items():
            if not params.get(name):
                return refusal("2", error_text)
        if params["api_key"] != self.api_key or params["api_secret"] != self.api_secret:
            return refusal("4", "Bad Credentials")
        kind = params.get("type", "text")
        if kind not in ("text", "unicode"):
            return refusal("3", "Invalid value for type parameter")
        if not params.get("text"):
            return refusal("2", "Missing text param")
        if not _TO.fullmatch(str(params["to"])):
            return refusal("3", "Invalid to address")
        ttl = params.get("ttl")
        if ttl is not None and not (str(ttl).isdigit() and 20_000 <= int(ttl) <= 604_800_000):
            return refusal("3", "Invalid ttl")
        if params["to"] in self.magic:
            return refusal(*self.magic[params["to"]])
        message_id = secrets.token_hex(8).upper()
        self.sent.append({**{k: str(v) for k, v in params.items()}, "message-id": message_id})
        part = {
            "to": params["to"],
            "message-id": message_id,
            "status": "0",
            "remaining-balance": "3.14159265",
            "message-price": "0.03330000",
            "network": "23410",
        }
        if "client-ref" in params:
            part["client-ref"] = params["client-ref"]
        return envelope(part)
