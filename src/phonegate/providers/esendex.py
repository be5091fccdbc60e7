"""Esendex SMS and voice messages through the REST API's message dispatcher
(``POST /v1.0/messagedispatcher``, HTTP Basic, an XML ``<messages>`` document), following
providers-wire.md §2 (the Esendex row).

Esendex answers 200 with ``<messageheaders batchid=…><messageheader id=…/>``; a failure is a
plain HTTP status with a short ``text/plain`` reason. Delivery receipts are push
notifications configured on the Esendex account, not per message, so none are parsed here.

Unverified details (the note marks Esendex's error bodies unverified): the wording of a 400
that blames the account reference (matched loosely on "account reference"), and what a
voice message does with a ``<lang>`` it has no voice for. Voice languages are the five the
official SDKs list; any other locale is read by the en-GB voice.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal
from xml.etree import ElementTree

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from phonegate.providers.base import (
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    SenderRule,
    SendResult,
    e164_digits,
    matching,
    pick_locale,
)
from phonegate.providers.transport import bad_response, raise_for_status, send, xml_body

DEFAULT_BASE_URL = "https://api.esendex.com"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"

# Esendex originators: an alphanumeric name of up to 11 characters, or a number of up to 15
# digits (virtual mobile number, short code, other phone number).
_ORIGINATOR = SenderRule()
_BLAMES_ACCOUNT = re.compile(r"account\s*ref", re.IGNORECASE)

# Esendex reads validity in hours, and treats 0 or more than 71 as its 72-hour default.
_MAX_VALIDITY_HOURS = 72

DEFAULT_VOICE_LANGUAGE = "en-GB"
# The voices Esendex's own SDKs list; a language's first voice is its default.
VOICE_LANGUAGES = ("en-GB", "en-AU", "es-ES", "fr-FR", "de-DE")
_VOICES = {lang.lower(): lang for lang in VOICE_LANGUAGES} | {
    lang.split("-")[0].lower(): lang for lang in reversed(VOICE_LANGUAGES)
}


def voice_language(locale: str) -> str:
    """The Esendex voice for a phonegate locale: the exact one ("en-AU"), else the first
    for its language ("fr-CA" → "fr-FR"), else en-GB."""
    return pick_locale(locale, _VOICES) or DEFAULT_VOICE_LANGUAGE


class EsendexConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    username: str = Field(min_length=1, description="the Esendex login (an email address)")
    password: SecretStr = Field(min_length=1)
    account_reference: Annotated[
        str, matching(r"EX\d+", "must be EX followed by digits, e.g. EX0012345")
    ]
    from_: Annotated[str, AfterValidator(_ORIGINATOR)] | None = Field(None, alias="from")
    base_url: BaseUrl = DEFAULT_BASE_URL
    timeout_seconds: float = Field(10.0, gt=0, le=60)


def dispatch_document(
    config: EsendexConfig, message: OutgoingMessage, kind: Literal["SMS", "Voice"]
) -> bytes:
    """The ``<messages>`` document for one message; ElementTree escapes the text."""
    root = ElementTree.Element("messages")
    ElementTree.SubElement(root, "accountreference").text = config.account_reference
    element = ElementTree.SubElement(root, "message")
    ElementTree.SubElement(element, "to").text = e164_digits(message.recipient)
    ElementTree.SubElement(element, "body").text = message.text
    sender = message.sender or config.from_
    if sender:
        ElementTree.SubElement(element, "from").text = sender
    ElementTree.SubElement(element, "type").text = kind
    if kind == "Voice":
        ElementTree.SubElement(element, "lang").text = voice_language(message.locale)
    hours = message.validity(3600, high=_MAX_VALIDITY_HOURS)
    if hours is not None:
        ElementTree.SubElement(element, "validity").text = str(hours)
    document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _message_id(response: httpx.Response) -> str | None:
    root = xml_body(response)
    header = root.find("{*}messageheader") if root is not None else None
    return header.get("id") if header is not None else None


class EsendexProvider:
    name: ClassVar[str] = "esendex"
    Config: ClassVar[type[BaseModel]] = EsendexConfig

    def __init__(self, config: EsendexConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms", "voice"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        return await self._dispatch(message, "SMS")

    async def place_call(self, message: OutgoingMessage) -> SendResult:
        return await self._dispatch(message, "Voice")

    async def _dispatch(
        self, message: OutgoingMessage, kind: Literal["SMS", "Voice"]
    ) -> SendResult:
        config = self._config
        response = await send(
            self._http,
            "POST",
            f"{config.base_url}/v1.0/messagedispatcher",
            provider=self.name,
            timeout=config.timeout_seconds,
            content=dispatch_document(config, message, kind),
            headers={"Content-Type": XML_CONTENT_TYPE, "Accept": "application/xml"},
            auth=(config.username, config.password.get_secret_value()),
        )
        if not response.is_success:
            reason = response.text.strip().split("\n", 1)[0][:200]
            status = response.status_code
            # 402: no credit left on the account, which only an operator can fix.
            if status == 402 or (status == 400 and _BLAMES_ACCOUNT.search(reason)):
                raise Misconfigured(f"esendex refused the account: {reason}", code=str(status))
            raise_for_status(response, provider=self.name, detail=reason)
        message_id = _message_id(response)
        if not message_id:
            raise bad_response(self.name, "a message id")
        return SendResult(provider=self.name, provider_message_id=message_id, status="queued")
