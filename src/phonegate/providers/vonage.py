"""Vonage (Nexmo) SMS API: ``POST /sms/json``, credentials in the form body.

Follows providers-wire.md §2 (the Vonage SMS API row) and pitfall 11 of §5: Vonage answers
HTTP 200 for most failures, so the outcome is each ``messages[].status`` ("0" is success), not
the HTTP status. Delivery receipts arrive on ``callback`` as the DLR webhook that
:func:`parse_receipt` reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Receipt,
    ReceiptStatus,
    Rejected,
    Retryable,
    SendResult,
)
from phonegate.providers.transport import raise_for_status, send

DEFAULT_BASE_URL = "https://rest.nexmo.com"

# GSM 03.38: the default alphabet and its extension table. Text of these goes as type=text;
# anything else needs type=unicode or the carrier replaces it with "?".
GSM7_CHARACTERS = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "\f^{}\\[~]|€"
)

# Vonage's accepted ttl range, in milliseconds.
_TTL_MS = (20_000, 604_800_000)
_NUMERIC_SENDER = re.compile(r"\+?\d{1,15}")
_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9]{1,11}")

# messages[].status, from Vonage's SMS API reference.
_RETRYABLE_STATUSES = frozenset({"1", "5", "10"})
_MISCONFIGURED_STATUSES = frozenset({"4", "8", "9", "11", "14", "15", "23", "32"})

_DLR_STATUSES: dict[str, ReceiptStatus] = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7_CHARACTERS


class VonageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True)

    api_key: str = Field(pattern=r"^[A-Za-z0-9]+$", max_length=32)
    api_secret: SecretStr = Field(min_length=1)
    from_: str = Field(alias="from", description="a number or a 1-11 character sender ID")
    base_url: str = Field(DEFAULT_BASE_URL, pattern=r"^https?://[^\s/?#]+(/\S*)?$")
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("from_")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        if _NUMERIC_SENDER.fullmatch(value):
            return value.lstrip("+")  # Vonage takes numbers without the "+"
        if _ALPHANUMERIC_SENDER.fullmatch(value):
            return value
        raise ValueError(
            "from must be a phone number of up to 15 digits or a sender ID of 1-11 letters "
            "and digits"
        )


class VonageProvider:
    name: ClassVar[str] = "vonage"
    Config: ClassVar[type[BaseModel]] = VonageConfig

    def __init__(self, config: VonageConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._url = config.base_url.rstrip("/") + "/sms/json"

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
                raise _error(status, str(part.get("error-text", "")))
        message_id = str(parts[0].get("message-id") or "")
        if not message_id:
            raise Retryable("Vonage accepted the message without a message-id", code="bad_response")
        # A long text is split into parts, each with its own id; receipts name each part.
        return SendResult(provider=self.name, provider_message_id=message_id, status="queued")

    def _form(self, message: OutgoingMessage) -> dict[str, str]:
        config = self._config
        form = {
            "api_key": config.api_key,
            "api_secret": config.api_secret.get_secret_value(),
            "from": config.from_,
            "to": message.recipient.lstrip("+"),
            "text": message.text,
            "type": "text" if is_gsm7(message.text) else "unicode",
        }
        if message.message_id:
            form["client-ref"] = message.message_id
        if message.callback_url:
            form["callback"] = message.callback_url
        if message.valid_for_seconds:
            low, high = _TTL_MS
            form["ttl"] = str(min(max(message.valid_for_seconds * 1000, low), high))
        return form


def _message_parts(response: httpx.Response) -> list[Mapping[str, Any]]:
    try:
        parts = response.json()["messages"]
    except (ValueError, KeyError, TypeError):
        parts = None
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise Retryable("Vonage answered without a messages list", code="bad_response")
    return parts


def _error(status: str, error_text: str) -> ProviderError:
    text = f"Vonage refused the message (status {status}): {error_text or 'no error text'}"
    if status in _RETRYABLE_STATUSES:
        return Retryable(text, code=status)
    if status in _MISCONFIGURED_STATUSES:
        return Misconfigured(text, code=status)
    # 2, 3, 6, 7, 12, 22, 29, 33 and anything new: a definitive no for this message.
    return Rejected(text, code=status)


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
