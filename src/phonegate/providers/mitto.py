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

from typing import Annotated, Any, ClassVar, NoReturn

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
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

DEFAULT_BASE_URL = "https://rest.mittoapi.com"

# Mitto's own rule (its response code 6): 3-11 letters and digits, or 3-14 digits.
_SENDER = SenderRule(name_length=(3, 11), number_length=(3, 14))

_CODE_KINDS: dict[int, type[ProviderError]] = {
    1: Retryable,  # internal error
    5: Misconfigured,  # empty sender
    6: Misconfigured,  # invalid sender
}


class MittoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_key: SecretStr = Field(min_length=1)
    from_: Annotated[str, AfterValidator(_SENDER)] = Field(alias="from")
    base_url: BaseUrl = DEFAULT_BASE_URL
    timeout_seconds: float = Field(10.0, gt=0, le=60)


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
            "from": message.sender or config.from_,
            "to": e164_digits(message.recipient),
            "text": message.text,
            "type": "Auto",
        }
        if message.message_id:
            payload["reference"] = message.message_id
        # Minutes; Mitto keeps retrying an undelivered message this long (default 48 h).
        minutes = message.validity(60)
        if minutes is not None:
            payload["validity"] = minutes
        response = await send(
            self._http,
            "POST",
            f"{config.base_url}/sms",
            provider=self.name,
            timeout=config.timeout_seconds,
            json=payload,
            headers={"X-Mitto-API-Key": config.api_key.get_secret_value()},
        )
        body = json_body(response)
        code = body.get("responseCode")
        if isinstance(code, int) and code != 0 and response.status_code in (200, 400):
            self._refuse(response, code, str(body.get("responseText") or ""))
        raise_for_status(response, provider=self.name)
        message_id = body.get("id")
        if code != 0 or not isinstance(message_id, str) or not message_id:
            raise bad_response(self.name, "a message id")
        return SendResult(provider=self.name, provider_message_id=message_id, status="queued")

    def _refuse(self, response: httpx.Response, code: int, reason: str) -> NoReturn:
        text = f"mitto refused the message ({code}): {reason}"
        raise_for_code(response, code, text, _CODE_KINDS)
        raise Rejected(text, code=str(code))
