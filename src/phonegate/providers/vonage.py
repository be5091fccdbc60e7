"""Vonage (Nexmo) SMS API: ``POST /sms/json``, credentials in the form body.

Follows providers-wire.md §2 (the Vonage SMS API row) and pitfall 11 of §5: Vonage answers
HTTP 200 for most failures, so the outcome is each ``messages[].status`` ("0" is success), not
the HTTP status. Delivery receipts arrive on ``callback`` as the DLR webhook that
:func:`parse_receipt` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, NoReturn

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from phonegate.gsm7 import is_gsm7
from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Receipt,
    ReceiptStatus,
    Rejected,
    Retryable,
    SenderRule,
    SendResult,
    e164_digits,
)
from phonegate.providers.transport import (
    bad_response,
    json_body,
    raise_for_code,
    raise_for_status,
    send,
)

DEFAULT_BASE_URL = "https://rest.nexmo.com"

# Vonage's accepted ttl range, in seconds (it takes milliseconds).
_TTL_SECONDS = (20, 604_800)
_SENDER = SenderRule(spaces=False)

# messages[].status, from Vonage's SMS API reference; any other refuses the message.
_STATUS_KINDS: dict[str, type[ProviderError]] = {
    **dict.fromkeys(("1", "5", "10"), Retryable),
    **dict.fromkeys(("4", "8", "9", "11", "14", "15", "23", "32"), Misconfigured),
}

_DLR_STATUSES: dict[str, ReceiptStatus] = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}


class VonageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True)

    api_key: str = Field(pattern=r"^[A-Za-z0-9]+$", max_length=32)
    api_secret: SecretStr = Field(min_length=1)
    from_: Annotated[str, AfterValidator(_SENDER)] = Field(
        alias="from", description="a number or a 1-11 character sender ID"
    )
    base_url: BaseUrl = DEFAULT_BASE_URL
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class VonageProvider:
    name: ClassVar[str] = "vonage"
    Config: ClassVar[type[BaseModel]] = VonageConfig

    def __init__(self, config: VonageConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._url = config.base_url + "/sms/json"

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
            data=self._form(message),
        )
        raise_for_status(response, provider="Vonage")
        parts = _message_parts(response)
        for part in parts:
            status = str(part.get("status", ""))
            if status != "0":
                _refuse(response, status, str(part.get("error-text", "")))
        message_id = str(parts[0].get("message-id") or "")
        if not message_id:
            raise bad_response("Vonage", "a message-id")
        # A long text is split into parts, each with its own id; receipts name each part.
        return SendResult(provider=self.name, provider_message_id=message_id, status="queued")

    def _form(self, message: OutgoingMessage) -> dict[str, str]:
        config = self._config
        form = {
            "api_key": config.api_key,
            "api_secret": config.api_secret.get_secret_value(),
            "from": message.sender or config.from_,
            "to": e164_digits(message.recipient),
            "text": message.text,
            # Outside GSM-7, type=text would have the carrier replace characters with "?".
            "type": "text" if is_gsm7(message.text) else "unicode",
        }
        if message.message_id:
            form["client-ref"] = message.message_id
        if message.callback_url:
            form["callback"] = message.callback_url
        low, high = _TTL_SECONDS
        ttl = message.validity(low=low, high=high)
        if ttl is not None:
            form["ttl"] = str(ttl * 1000)
        return form


def _message_parts(response: httpx.Response) -> list[Mapping[str, Any]]:
    parts = json_body(response).get("messages")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise bad_response("Vonage", "a messages list")
    return parts


def _refuse(response: httpx.Response, status: str, error_text: str) -> NoReturn:
    text = f"Vonage refused the message (status {status}): {error_text or 'no error text'}"
    raise_for_code(response, status, text, _STATUS_KINDS)
    # 2, 3, 6, 7, 12, 22, 29, 33 and anything new: a definitive no for this message.
    raise Rejected(text, code=status)


def parse_receipt(params: Mapping[str, str]) -> Receipt | None:
    """Read Vonage's delivery-receipt webhook (query or form parameters). None when it is
    not a receipt, or its status is ``unknown`` (it tells nothing new)."""
    message_id = params.get("messageId")
    status = _DLR_STATUSES.get(params.get("status", ""))
    if not message_id or status is None:
        return None
    error_code = params.get("err-code")
    return Receipt(
        provider_message_id=message_id,
        status=status,
        error_code=error_code if error_code not in (None, "", "0") else None,
    )
