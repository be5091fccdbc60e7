"""Infobip SMS: ``POST /sms/2/text/advanced`` with ``Authorization: App <API key>``.

Follows providers-wire.md §2 (the Infobip row). A request-level failure is an HTTP error with
a ``requestError.serviceException`` body; a message the platform will not take comes back at
HTTP 200 with its status in group 5 ``REJECTED``. Delivery reports arrive on ``notifyUrl``
as the JSON that :func:`parse_receipt` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Receipt,
    ReceiptStatus,
    Rejected,
    SenderRule,
    SendResult,
    e164_digits,
    matching,
)
from phonegate.providers.transport import (
    bad_response,
    json_body,
    raise_for_code,
    raise_for_status,
    send,
)

# Infobip's validityPeriod is in minutes, at most 48 hours.
MAX_VALIDITY_MINUTES = 2880

_SENDER = SenderRule(name_length=(3, 11), number_length=(3, 14), spaces=False)

# Request fields that come from configuration (the sender, phonegate's callback URL).
_CONFIGURED_FIELDS = (".from", ".notifyUrl", ".notifyContentType")
# Group-5 statuses that concern the account or the sender, not the destination.
_REJECTION_KINDS: dict[str, type[ProviderError]] = dict.fromkeys(
    (
        "REJECTED_NOT_ENOUGH_CREDITS",
        "REJECTED_PREPAID_PACKAGE_EXPIRED",
        "REJECTED_SENDER",
        "REJECTED_SOURCE",
    ),
    Misconfigured,
)
_REPORT_GROUPS: dict[str, ReceiptStatus] = {
    "PENDING": "sent",
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "undelivered",
    "EXPIRED": "undelivered",
    "REJECTED": "failed",
}


class InfobipConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True)

    # It goes into a header: refuse what would break it rather than fail at send time.
    api_key: Annotated[
        SecretStr,
        matching(r"[A-Za-z0-9-]+", "must be the key Infobip issued (letters, digits, dashes)"),
    ]
    # Per account (https://<x>.api.infobip.com): there is no shared default.
    base_url: BaseUrl
    from_: Annotated[str, AfterValidator(_SENDER)] | None = Field(
        None, alias="from", description="a number or a 3-11 character sender ID"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class InfobipProvider:
    name: ClassVar[str] = "infobip"
    Config: ClassVar[type[BaseModel]] = InfobipConfig

    def __init__(self, config: InfobipConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._url = config.base_url + "/sms/2/text/advanced"

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        response = await send(
            self._http,
            "POST",
            self._url,
            provider=self.name,
            timeout=self._config.timeout_seconds,
            json={"messages": [self._message(message)]},
            headers={
                "Authorization": f"App {self._config.api_key.get_secret_value()}",
                "Accept": "application/json",
            },
        )
        body = json_body(response)
        if response.status_code >= 300:
            _raise_request_error(response, body)
        try:
            (sent,) = body["messages"]
            status = dict(sent["status"])
            message_id = str(sent["messageId"])
        except (KeyError, TypeError, ValueError):
            raise bad_response("Infobip", "a message status") from None
        if status.get("groupName") == "REJECTED":
            name = str(status.get("name", "REJECTED"))
            text = f"Infobip rejected the message: {name} ({status.get('description', '')})"
            raise_for_code(response, name, text, _REJECTION_KINDS)
            raise Rejected(text, code=name)
        return SendResult(provider=self.name, provider_message_id=message_id, status="queued")

    def _message(self, message: OutgoingMessage) -> dict[str, Any]:
        destination = {"to": e164_digits(message.recipient)}
        if message.message_id:
            destination["messageId"] = message.message_id
        payload: dict[str, Any] = {"destinations": [destination], "text": message.text}
        sender = message.sender or self._config.from_
        if sender:
            payload["from"] = sender
        minutes = message.validity(60, high=MAX_VALIDITY_MINUTES)
        if minutes is not None:
            payload["validityPeriod"] = minutes
        if message.callback_url:
            payload["notifyUrl"] = message.callback_url
            payload["notifyContentType"] = "application/json"
        return payload


def _raise_request_error(response: httpx.Response, body: Mapping[str, Any]) -> None:
    try:
        exception = body["requestError"]["serviceException"]
        error_id, error_text = str(exception["messageId"]), str(exception.get("text", ""))
        fields = list(exception.get("validationErrors") or {})
    except (KeyError, TypeError, AttributeError):
        error_id, error_text, fields = None, "", []
    # BAD_REQUEST covers both "invalid 'to'" and "invalid sender": the fields it names tell
    # a problem with this message from one with what the operator configured.
    if response.status_code == 400 and any(f.endswith(_CONFIGURED_FIELDS) for f in fields):
        raise Misconfigured(
            f"Infobip refused the request: {error_text} ({', '.join(fields)})", code=error_id
        )
    raise_for_status(response, provider="Infobip", detail=error_text, code=error_id)


def parse_receipt(body: Mapping[str, Any]) -> list[Receipt]:
    """Read Infobip's delivery-report webhook: one receipt per result it can map."""
    receipts: list[Receipt] = []
    results = body.get("results") if isinstance(body, Mapping) else None
    if not isinstance(results, list):
        return receipts  # not a delivery report: nothing to read, never a crash
    for result in results:
        if not isinstance(result, Mapping):
            continue
        message_id = result.get("messageId")
        state = result.get("status")
        status = (
            _REPORT_GROUPS.get(str(state.get("groupName"))) if isinstance(state, Mapping) else None
        )
        if not isinstance(message_id, str | int) or not message_id or status is None:
            continue
        error = result.get("error")
        error = error if isinstance(error, Mapping) else {}
        failed = error.get("groupName", "OK") != "OK"
        receipts.append(
            Receipt(
                provider_message_id=str(message_id),
                status=status,
                error_code=str(error.get("name") or error.get("id")) if failed else None,
            )
        )
    return receipts
