"""Infobip SMS fake: ``POST /sms/2/text/advanced`` with ``Authorization: App <key>``.

A wrong or missing key is 401 ``UNAUTHORIZED``; a malformed request is 400 ``BAD_REQUEST``
with ``validationErrors``, both in Infobip's ``requestError.serviceException`` envelope (also
used for ``fail_next``). Magic numbers are taken at HTTP 200 with a group-5 ``REJECTED`` status,
as the platform does. ``sent`` holds each accepted message (destination, fields, messageId);
``report()`` builds the delivery-report webhook body Infobip would post for one of them.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer

INVALID_DESTINATION = "385910000052"
NO_CREDIT_DESTINATION = "385910000012"

_PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}
_FORCED = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Invalid login details"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("GENERAL_ERROR", "Something went wrong. Please contact support."),
    503: ("SERVICE_UNAVAILABLE", "Service temporarily unavailable"),
}
_REPORT_STATUS = {
    "DELIVERED": (3, 5, "DELIVERED_TO_HANDSET", "Message delivered to handset"),
    "UNDELIVERABLE": (2, 4, "UNDELIVERABLE_REJECTED_OPERATOR", "Message rejected by operator"),
    "EXPIRED": (4, 15, "EXPIRED_EXPIRED", "Message expired"),
    "REJECTED": (5, 6, "REJECTED_NETWORK", "Network is forbidden"),
    "PENDING": (1, 3, "PENDING_WAITING_DELIVERY", "Message sent, waiting for delivery report"),
}
_DIGITS = re.compile(r"\d{3,15}")
_URL = re.compile(r"https?://[^\s/?#]+\S*")


def request_error(
    status: int, message_id: str, text: str, validation: dict[str, list[str]] | None = None
) -> JSONResponse:
    exception: dict[str, Any] = {"messageId": message_id, "text": text}
    if validation:
        exception["validationErrors"] = validation
    return JSONResponse({"requestError": {"serviceException": exception}}, status_code=status)


def rejected(status_id: int, name: str, description: str) -> dict[str, Any]:
    return {
        "groupId": 5,
        "groupName": "REJECTED",
        "id": status_id,
        "name": name,
        "description": description,
    }


class InfobipFake(FakeServer):
    def __init__(self, *, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.sent: list[dict[str, Any]] = []
        self.magic: dict[str, dict[str, Any]] = {
            INVALID_DESTINATION: rejected(
                52, "REJECTED_DESTINATION", "Invalid destination address"
            ),
            NO_CREDIT_DESTINATION: rejected(
                12, "REJECTED_NOT_ENOUGH_CREDITS", "Not enough credits"
            ),
        }

    def error_response(self, status: int) -> Response:
        message_id, text = _FORCED.get(status, ("GENERAL_ERROR", "forced failure"))
        return request_error(status, message_id, text)

    def reset(self) -> None:
        super().reset()
        self.sent.clear()

    def report(self, message_id: str, group: str = "DELIVERED") -> dict[str, Any]:
        """The delivery-report body Infobip posts to ``notifyUrl`` for a message it took."""
        sent = next(m for m in self.sent if m["messageId"] == message_id)
        group_id, status_id, name, description = _REPORT_STATUS[group]
        ok = group in ("DELIVERED", "PENDING")
        error = (
            {
                "groupId": 0,
                "groupName": "OK",
                "id": 0,
                "name": "NO_ERROR",
                "description": "No Error",
                "permanent": False,
            }
            if ok
            else {
                "groupId": 1,
                "groupName": "HANDSET_ERRORS",
                "id": 27,
                "name": "EC_ABSENT_SUBSCRIBER",
                "description": "Absent Subscriber",
                "permanent": False,
            }
        )
        return {
            "results": [
                {
                    "bulkId": sent["bulkId"],
                    "messageId": message_id,
                    "to": sent["to"],
                    "sentAt": "2026-01-01T12:00:00.000+0000",
                    "doneAt": "2026-01-01T12:00:05.000+0000",
                    "smsCount": 1,
                    "price": {"pricePerMessage": 0.01, "currency": "EUR"},
                    "status": {
                        "groupId": group_id,
                        "groupName": group,
                        "id": status_id,
                        "name": name,
                        "description": description,
                    },
                    "error": error,
                }
            ]
        }

    def routes(self) -> list[BaseRoute]:
        return [Route("/sms/2/text/advanced", self._send, methods=["POST"])]

    async def _send(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        if entry.headers.get("authorization") != f"App {self.api_key}":
            return request_error(401, "UNAUTHORIZED", "Invalid login details")
        problems = _validation_errors(entry.json)
        if problems:
            return request_error(400, "BAD_REQUEST", "Bad request", problems)
        bulk_id = secrets.token_hex(10)
        answers = []
        for message in entry.json["messages"]:
            for destination in message["destinations"]:
                to = destination["to"]
                message_id = destination.get("messageId") or secrets.token_hex(10)
                status = self.magic.get(to, _PENDING)
                if status is _PENDING:
                    fields = {k: v for k, v in message.items() if k != "destinations"}
                    self.sent.append(
                        {**fields, "to": to, "messageId": message_id, "bulkId": bulk_id}
                    )
                answers.append({"to": to, "messageId": message_id, "status": status})
        return JSONResponse({"bulkId": bulk_id, "messages": answers})


def _validation_errors(body: Any) -> dict[str, list[str]]:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return {"messages": ["must not be empty"]}
    problems: dict[str, list[str]] = {}
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not message.get("text"):
            problems[f"{where}.text"] = ["must not be blank"]
        destinations = message.get("destinations")
        if not isinstance(destinations, list) or not destinations:
            problems[f"{where}.destinations"] = ["must not be empty"]
            continue
        for j, destination in enumerate(destinations):
            if not _DIGITS.fullmatch(str(destination.get("to", ""))):
                problems[f"{where}.destinations[{j}].to"] = ["invalid destination address format"]
        validity = message.get("validityPeriod")
        if validity is not None and not (isinstance(validity, int) and 1 <= validity <= 2880):
            problems[f"{where}.validityPeriod"] = ["must be between 1 and 2880"]
        if "notifyUrl" in message and not _URL.fullmatch(str(message["notifyUrl"])):
            problems[f"{where}.notifyUrl"] = ["must be a valid URL"]
        if "notifyUrl" in message and message.get("notifyContentType") not in (
            "application/json",
            "application/xml",
        ):
            problems[f"{where}.notifyContentType"] = ["must be application/json or application/xml"]
    return problems
