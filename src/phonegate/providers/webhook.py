"""The generic webhook provider: each message is POSTed to the operator's URL with a body
rendered from a Liquid template, signed when a signing secret is set. It is phonegate's own
wire format, not a vendor's, so it follows no section of providers-wire.md:

    POST <url>
    Content-Type: application/json                      (content_type)
    Authorization: <authorization>                      (when set)
    X-Phonegate-Signature: t=1718000000,v1=5f0c…        (when signing_secret is set)

    {"recipient": "+15555550100", "text": "123456 is your code", "code": "123456",
     "channel": "sms", "kind": "verification", "locale": "en", "message_id": "…",
     "callback_url": null}

The template sees recipient, text, code, channel, kind, locale, message_id, callback_url,
valid_for_seconds, and the client, user, request and tenant the dispatcher passed along; its
``json`` filter writes a value as JSON. ``v1`` is the hex HMAC-SHA256, keyed with the signing
secret, of ``"<t>.<raw body>"`` (``t`` in Unix seconds). A receiver checks it over the raw
bytes, before parsing, and refuses stale timestamps so a captured request cannot be replayed:

    from phonegate.providers.webhook import SIGNATURE_HEADER, verify_signature

    async def receive(request: Request) -> Response:      # e.g. a Starlette endpoint
        body = await request.body()
        header = request.headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(SECRET, header, body, now=time.time()):
            return Response(status_code=401)
        message = json.loads(body)
        ...                                               # hand it to the carrier
        return JSONResponse({"id": carrier_message_id})

Answers: 2xx is sent (a JSON body's ``id`` or ``message_id`` becomes the provider message id),
429 and 5xx retry (honouring Retry-After), 401, 403 and redirects are configuration errors,
any other 4xx rejects the message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any, ClassVar

import httpx
from liquid import BoundTemplate
from liquid.exceptions import LiquidError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from phonegate.liquid_sandbox import sandboxed_environment
from phonegate.providers import transport
from phonegate.providers.base import (
    MAX_ID_CHARS,
    Misconfigured,
    OutgoingMessage,
    SendResult,
    answered_id,
)

SIGNATURE_HEADER = "X-Phonegate-Signature"
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+( *;[ -~]*)?$", re.ASCII)

DEFAULT_BODY_TEMPLATE = (
    '{"recipient": {{ recipient | json }}, "text": {{ text | json }}, '
    '"code": {{ code | json }}, "channel": {{ channel | json }}, "kind": {{ kind | json }}, '
    '"locale": {{ locale | json }}, "message_id": {{ message_id | json }}, '
    '"callback_url": {{ callback_url | json }}}'
)


def _parse(source: str) -> BoundTemplate:
    try:
        return sandboxed_environment().from_string(source)
    except LiquidError as exc:
        raise ValueError(f"body_template is not a valid Liquid template: {exc}") from None


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    body_template: str = DEFAULT_BODY_TEMPLATE
    content_type: str = "application/json"
    signing_secret: SecretStr | None = None
    authorization: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError("url must be an http:// or https:// URL with a host")
        return value

    @field_validator("body_template")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        _parse(value)
        return value

    @field_validator("content_type")
    @classmethod
    def _media_type(cls, value: str) -> str:
        if not _CONTENT_TYPE.fullmatch(value):
            raise ValueError("content_type must be a media type such as 'application/json'")
        return value

    @field_validator("authorization")
    @classmethod
    def _single_line(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().isprintable():
            raise ValueError("authorization must be one line of printable characters")
        return value


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The ``X-Phonegate-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, str(timestamp), body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` and its timestamp is within
    ``tolerance`` seconds of ``now``. Any ``v1`` may match, so a receiver can accept two
    secrets while rotating. A malformed header is False, never an exception."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    if abs(now - int(stamps[0])) > tolerance:
        return False
    expected = _digest(secret, stamps[0], body).encode()
    return any(hmac.compare_digest(expected, given.encode()) for given in fields.get("v1", []))


def _variables(message: OutgoingMessage) -> dict[str, Any]:
    context = message.metadata
    return {
        "recipient": message.recipient,
        "text": message.text,
        "code": message.code,
        "channel": message.channel,
        "kind": message.kind,
        "locale": message.locale,
        "message_id": message.message_id,
        "callback_url": message.callback_url,
        "valid_for_seconds": message.valid_for_seconds,
        "client": context.get("client") or {},
        "user": context.get("user") or {},
        "request": context.get("request") or {},
        "tenant": {"id": message.tenant_id, **(context.get("tenant") or {})},
    }


class WebhookProvider:
    name: ClassVar[str] = "webhook"
    Config: ClassVar[type[BaseModel]] = WebhookConfig

    def __init__(self, config: WebhookConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._template = _parse(config.body_template)

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms", "voice"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        return await self._post(message)

    async def place_call(self, message: OutgoingMessage) -> SendResult:
        return await self._post(message)

    async def _post(self, message: OutgoingMessage) -> SendResult:
        body = self._render(message)
        response = await transport.send(
            self._http,
            "POST",
            self._config.url,
            provider=self.name,
            timeout=self._config.timeout_seconds,
            content=body,
            headers=self._headers(body),
        )
        status = response.status_code
        if 300 <= status < 400:
            # Redirects are not followed (the guard checks one destination), so the URL is stale.
            raise Misconfigured(
                f"webhook answered a redirect (HTTP {status}); set url to the final address",
                code=str(status),
            )
        transport.raise_for_status(response, provider=self.name)
        # An empty or non-JSON answer is fine: there is just no id.
        found = answered_id(transport.json_body(response))
        return SendResult(
            provider=self.name, provider_message_id=found[:MAX_ID_CHARS] if found else None
        )

    def _render(self, message: OutgoingMessage) -> bytes:
        try:
            text = self._template.render(**_variables(message))
        except LiquidError as exc:
            # Only the error's type: its text may quote rendered values such as the code.
            raise Misconfigured(
                f"the webhook body template could not be rendered ({type(exc).__name__})",
                code="template_error",
            ) from None
        if "json" in self._config.content_type:
            try:
                json.loads(text)
            except ValueError:
                raise Misconfigured(
                    "the webhook body template did not render valid JSON (use the json filter)",
                    code="template_error",
                ) from None
        return text.encode()

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": self._config.content_type}
        if self._config.authorization is not None:
            headers["Authorization"] = self._config.authorization.get_secret_value()
        if self._config.signing_secret is not None:
            secret = self._config.signing_secret.get_secret_value()
            headers[SIGNATURE_HEADER] = sign(secret, body, timestamp=int(time.time()))
        return headers
