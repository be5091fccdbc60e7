"""A fake TeleSign Messaging API: ``POST /v1/messaging`` with HTTP Basic auth, answering in
TeleSign's shapes (providers-wire.md §2): 200 ``status.code`` 290 with a reference_id, 401
with ``errors[]`` (-30000 unknown customer, -30006 wrong key), 400 with the parameter's
status code (12000-series missing, 11000-series invalid)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, Received, basic_credentials

CUSTOMER_ID = "FFFFFFFF-EEEE-DDDD-1234-AB1234567890"
API_KEY = base64.b64encode(b"fake telesign api key for tests").decode()

# TeleSign refuses this number outright: 400, status 11000.
INVALID_NUMBER = "+15005550001"
# A sender id TeleSign does not accept for the account: 400, status 11013.
REFUSED_SENDER_ID = "Refused"

_REQUIRED = (("phone_number", 12000), ("message", 12009), ("message_type", 12017))
_MESSAGE_TYPES = ("OTP", "ARN", "MKT")


@dataclass
class SentSms:
    reference_id: str
    phone_number: str
    message: str
    message_type: str
    sender_id: str | None
    external_id: str | None
    callback_url: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _answer(
    status: int,
    code: int,
    description: str,
    *,
    reference_id: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        {
            "reference_id": reference_id or secrets.token_hex(16).upper(),
            "status": {"code": code, "description": description, "updated_on": _now()},
            "errors": errors or [],
            **extra,
        },
        status_code=status,
    )


class TelesignFake(FakeServer):
    def __init__(self, customer_id: str = CUSTOMER_ID, api_key: str = API_KEY) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.api_key = api_key
        self.messages: list[SentSms] = []

    def reset(self) -> None:
        super().reset()
        self.messages.clear()

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/messaging", self.send_message, methods=["POST"])]

    def error_response(self, status: int) -> Response:
        # TeleSign's Messaging status codes for throttling and for a system outage.
        if status == 429:
            return _answer(429, 3204, "Rate limit exceeded")
        return _answer(status, 3500, "System Unavailable")

    def _auth_error(self, entry: Received) -> Response | None:
        customer_id, api_key = basic_credentials(entry.headers) or ("", "")
        if customer_id != self.customer_id:
            error = {"code": -30000, "description": "Invalid Customer ID."}
        elif api_key != self.api_key:
            error = {"code": -30006, "description": "Invalid Signature."}
        else:
            return None
        return _answer(401, 501, "Not authorized", errors=[error])

    async def send_message(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        if (refusal := self._auth_error(entry)) is not None:
            return refusal
        form = entry.params
        for name, code in _REQUIRED:
            if not form.get(name):
                return _answer(400, code, f"Missing Required Parameter {name}")
        phone_number = form["phone_number"]
        if not phone_number.isdigit() or f"+{phone_number}" == INVALID_NUMBER:
            return _answer(400, 11000, "Invalid value for parameter phone_number.")
        if form["message_type"] not in _MESSAGE_TYPES:
            return _answer(400, 11017, "Invalid value for parameter message_type.")
        if form.get("sender_id") == REFUSED_SENDER_ID:
            return _answer(400, 11013, "Invalid value for parameter sender_id.")
        sent = SentSms(
            reference_id=secrets.token_hex(16).upper(),
            phone_number=phone_number,
            message=form["message"],
            message_type=form["message_type"],
            sender_id=form.get("sender_id"),
            external_id=form.get("external_id"),
            callback_url=form.get("callback_url"),
        )
        self.messages.append(sent)
        return _answer(
            200,
            290,
            "Message in progress",
            reference_id=sent.reference_id,
            external_id=sent.external_id,
            additional_info={"message_parts_count": 1},
        )
