"""TeleSign SMS through the Messaging REST API (``POST /v1/messaging``, HTTP Basic
``customer_id:api_key``, form-encoded), following providers-wire.md §2 (the TeleSign row).

TeleSign answers 200 with ``status.code`` 290 ("Message in progress") and a ``reference_id``
when it takes a message; the final state arrives later as a status callback, which
:func:`parse_receipt` reads and :func:`valid_signature` authenticates.

Unverified details (the note marks TeleSign's error codes unverified; checked here against
TeleSign's public status/error code tables and its callback sample, not against a live
account): which ``status.code`` / ``errors[].code`` values a 4xx carries for each cause,
the sender id rule (1-11 letters/digits or up to 15 digits), and the callback signature
scheme. Unknown 4xx codes are therefore ``Rejected`` and unknown 5xx ``Retryable``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    Receipt,
    ReceiptStatus,
    SenderRule,
    SendResult,
    e164_digits,
    matching,
)
from phonegate.providers.transport import bad_response, json_body, raise_for_status, send

DEFAULT_BASE_URL = "https://rest-api.telesign.com"

_CUSTOMER_ID = r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}"

# What each SMS ``status.code`` says of a message. 250 (final status unknown), 295 (status
# delayed) and 599 (status not available) say nothing new, so they are left out.
_STATUS: dict[int, ReceiptStatus] = {
    200: "delivered",  # delivered to handset
    203: "sent",  # delivered to gateway
    290: "queued",  # message in progress
    291: "queued",  # queued by TeleSign
    292: "queued",  # queued at gateway
    # The handset, the carrier or the network could not take it.
    **dict.fromkeys((207, 210, 211, 220, 221, 222, 503, 504, 507), "undelivered"),
    **dict.fromkeys(range(510, 516), "undelivered"),
    # TeleSign or its gateway refused to send it (blocklist, content, parameters).
    **dict.fromkeys((229, 230, 231, 500, 501, 502, 505, 506, 508, 509), "failed"),
}

# Codes of a 400 that blame the configuration rather than the recipient: an invalid
# callback_url, sender_id or message_type. Authentication and account codes (-300xx,
# -20002 product not enabled, -10009 source IP not allowed) come with a 401.
_CONFIGURATION_CODES = frozenset({11004, 11013, 11017})


class TelesignConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Annotated[
        str, matching(_CUSTOMER_ID, "must look like FFFFFFFF-EEEE-DDDD-1234-AB1234567890")
    ]
    api_key: SecretStr = Field(min_length=1)
    message_type: Literal["OTP", "ARN", "MKT"] = "OTP"
    sender_id: Annotated[str, AfterValidator(SenderRule())] | None = None
    base_url: BaseUrl = DEFAULT_BASE_URL
    timeout_seconds: float = Field(10.0, gt=0, le=60)


def _status_code(body: Mapping[str, Any]) -> int | None:
    status = body.get("status")
    code = status.get("code") if isinstance(status, Mapping) else None
    return code if isinstance(code, int) else None


def _error(body: Mapping[str, Any]) -> tuple[int | None, str]:
    """The most specific code and description in an answer: the first of ``errors[]``
    (older answers), else ``status`` (newer answers carry the reason there)."""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        first = errors[0]
        code = first.get("code")
        return (code if isinstance(code, int) else None), str(first.get("description") or "")
    status = body.get("status")
    description = status.get("description") if isinstance(status, Mapping) else None
    return _status_code(body), str(description or "")


class TelesignProvider:
    name: ClassVar[str] = "telesign"
    Config: ClassVar[type[BaseModel]] = TelesignConfig

    def __init__(self, config: TelesignConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        config = self._config
        form = {
            "phone_number": e164_digits(message.recipient),
            "message": message.text,
            "message_type": config.message_type,
        }
        if message.message_id:
            form["external_id"] = message.message_id
        sender = message.sender or config.sender_id
        if sender:
            form["sender_id"] = sender
        if message.callback_url:
            form["callback_url"] = message.callback_url
        response = await send(
            self._http,
            "POST",
            f"{config.base_url}/v1/messaging",
            provider=self.name,
            timeout=config.timeout_seconds,
            data=form,
            auth=(config.customer_id, config.api_key.get_secret_value()),
        )
        body = json_body(response)
        if not response.is_success:
            code, description = _error(body)
            if response.status_code == 400 and code in _CONFIGURATION_CODES:
                raise Misconfigured(
                    f"telesign refused the configuration: {description}", code=str(code)
                )
            raise_for_status(
                response,
                provider=self.name,
                detail=description,
                code=None if code is None else str(code),
            )
        return self._accepted(body)

    def _accepted(self, body: Mapping[str, Any]) -> SendResult:
        reference_id = body.get("reference_id")
        if not isinstance(reference_id, str) or not reference_id:
            raise bad_response(self.name, "a reference_id")
        status_code = _status_code(body)
        taken = _STATUS.get(status_code) if status_code is not None else None
        return SendResult(
            provider=self.name,
            provider_message_id=reference_id,
            status="sent" if taken in ("sent", "delivered") else "queued",
        )


def parse_receipt(body: Mapping[str, Any]) -> Receipt | None:
    """Read TeleSign's status callback (``{"reference_id": …, "status": {"code": 200, …}}``);
    None when it is not one or its status says nothing new (see ``_STATUS``)."""
    reference_id = body.get("reference_id")
    status_code = _status_code(body)
    if not isinstance(reference_id, str) or not reference_id or status_code is None:
        return None
    status = _STATUS.get(status_code)
    if status is None:
        return None
    failed = status in ("undelivered", "failed")
    return Receipt(reference_id, status, error_code=str(status_code) if failed else None)


def valid_signature(config: TelesignConfig, authorization: str | None, body: bytes) -> bool:
    """TeleSign signs callbacks ``Authorization: TSA <customer_id>:<signature>``, the
    signature being base64(HMAC-SHA256(base64-decoded API key, raw body))."""
    scheme, _, credentials = (authorization or "").partition(" ")
    customer_id, _, signature = credentials.partition(":")
    if scheme != "TSA" or not signature:
        return False
    try:
        key = base64.b64decode(config.api_key.get_secret_value())
    except ValueError:  # binascii.Error: not base64
        return False
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
    same_customer = hmac.compare_digest(
        customer_id.lower().encode(), config.customer_id.lower().encode()
    )
    return same_customer and hmac.compare_digest(signature.encode(), expected)
