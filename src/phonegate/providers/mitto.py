"""Mitto SMS through the SMS API (``POST /sms``, header ``X-Mitto-API-Key``, JSON), following
providers-wire.md §2 (the Mitto row).

Mitto answers 200 for a refused message too: ``responseCode`` 0 is success, anything else
says why it was not sent (the codes in ``_MISCONFIGURED_CODES`` and ``_RETRYABLE_CODES``;
every other code refuses this message). A bad key is HTTP 401.

Unverified details (the note marks response codes past 6 unverified): 7 (empty receiver)
and 8 (invalid receiver) are from Mitto's developer guide; later codes are unknown and
refuse the message. Mitto's delivery reports need the callback URL whitelisted by Mitto and
their format is undocumented here, so this module neither asks for nor parses them.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    Rejected,
    Retryable,
    SendResult,
)
from phonegate.providers.transport import raise_for_status, send

DEFAULT_BASE_URL = "https://rest.mittoapi.com"

# Mitto's own rule (its response code 6): 3-11 letters and digits, or 3-14 digits.
_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{3,11}|\d{3,14}")

_RETRYABLE_CODES = frozenset({1})  # internal error
_MISCONFIGURED_CODES = frozenset({5, 6})  # empty sender, invalid sender


class MittoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_key: SecretStr = Field(min_length=1)
    from_: str = Field(alias="from")
    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("from_")
    @classmethod
    def _sender_format(cls, value: str) -> str:
        if not _SENDER.fullmatch(value):
            raise ValueError("from must be 3-11 letters and digits, or 3-14 digits")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class MittoProvider:
    name: ClassVar[str] = "mitto"
    Config: ClassVar[type[BaseModel]] = MittoConfig

    def __init__(self, config: MittoConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        config = self._config
        payload: dict[str, Any] = {
            "from": config.from_,
            "to": message.recipient.removeprefix("+"),
            "text": message.text,
            "type": "Auto",
        }
        if message.message_id:
            payload["reference"] = message.message_id
        if message.valid_for_seconds is not None:
            # Minutes; Mitto keeps retrying an undelivered message this long (default 48 h).
            payload["validity"] = max(1, math.ceil(message.valid_for_seconds / 60))
        response = await send(
            self._http,
            "POST",
            f"{config.base_url}/sms",
            provider=self.name,
            timeout=config.timeout_seconds,
            json=payload,
            headers={"X-Mitto-API-Key": config.api_key.get_secret_value()},
        )
        body = _json_object(response)
        code = body.get("responseCode")
        if isinstance(code, int) and code != 0 and response.status_code in (200, 400):
            self._raise_refusal(code, str(body.get("responseText") or ""))
        raise_for_status(response, provider=self.name)
        message_id = body.get("id")
        if code != 0 or not isinstance(message_id, str) or not message_id:
            raise Retryable("mitto answered without a message id", code="bad_response")
        return SendResult(provider=self.name, provider_message_id=message_id, status="queued")

    def _raise_refusal(self, code: int, reason: str) -> NoReturn:
        text = f"mitto refused the message ({code}): {reason}"
        if code in _RETRYABLE_CODES:
            raise Retryable(text, code=str(code))
        if code in _MISCONFIGURED_CODES:
            raise Misconfigured(text, code=str(code))
        raise Rejected(text, code=str(code))
