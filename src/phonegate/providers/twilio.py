"""Twilio Programmable Messaging and Voice (REST API 2010-04-01), as providers-wire.md §1.1-1.5
and §1.7-1.8 describe them: SMS through ``Messages.json``, voice through ``Calls.json`` with
inline TwiML, status-callback receipts, and ``X-Twilio-Signature`` checks.

The configuration mirrors Auth0's Twilio provider: a ``from`` number or a Messaging Service
for SMS; voice always needs ``from``, a Twilio number, even when a Messaging Service sends SMS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import ClassVar, Self
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from pydantic import ConfigDict, Field, field_validator, model_validator

from phonegate.providers.base import (
    E164,
    VOICE_PAUSE,
    BaseUrl,
    Misconfigured,
    OutgoingMessage,
    Receipt,
    ReceiptStatus,
    Rejected,
    Retryable,
    SenderRule,
    SendResult,
    pick_locale,
)
from phonegate.providers.twilio_common import ErrorKinds, TwilioApi, TwilioCredentials

# Twilio's alphanumeric sender id: up to 11 ASCII letters, digits and spaces, not all digits.
# A number must be E.164: Twilio keeps the "+".
ALPHANUMERIC_SENDER = SenderRule(number_length=None)

MAX_TWIML_CHARS = 4000  # Calls.json refuses longer inline TwiML
MAX_VALIDITY_SECONDS = 36000
RING_TIMEOUT_SECONDS = "30"
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]

# <Say> language and Amazon Polly voice per locale; a voice must match its language.
VOICES: dict[str, tuple[str, str]] = {
    "en": ("en-US", "Polly.Joanna"),
    "en-gb": ("en-GB", "Polly.Amy"),
    "en-au": ("en-AU", "Polly.Nicole"),
    "en-in": ("en-IN", "Polly.Aditi"),
    "es": ("es-ES", "Polly.Lucia"),
    "es-mx": ("es-MX", "Polly.Mia"),
    "es-us": ("es-US", "Polly.Lupe"),
    "fr": ("fr-FR", "Polly.Celine"),
    "fr-ca": ("fr-CA", "Polly.Chantal"),
    "de": ("de-DE", "Polly.Marlene"),
    "pt": ("pt-BR", "Polly.Camila"),
    "pt-pt": ("pt-PT", "Polly.Ines"),
    "it": ("it-IT", "Polly.Carla"),
    "nl": ("nl-NL", "Polly.Lotte"),
    "ja": ("ja-JP", "Polly.Mizuki"),
    "zh": ("cmn-CN", "Polly.Zhiyu"),
    "ko": ("ko-KR", "Polly.Seoyeon"),
    "ar": ("arb", "Polly.Zeina"),
    "hi": ("hi-IN", "Polly.Aditi"),
    "pl": ("pl-PL", "Polly.Ewa"),
    "ru": ("ru-RU", "Polly.Tatyana"),
    "sv": ("sv-SE", "Polly.Astrid"),
    "da": ("da-DK", "Polly.Naja"),
    "nb": ("nb-NO", "Polly.Liv"),
    "tr": ("tr-TR", "Polly.Filiz"),
    "ro": ("ro-RO", "Polly.Carmen"),
}

ERRORS: ErrorKinds = {
    20003: Misconfigured,  # authentication failed
    20008: Misconfigured,  # test credentials cannot send
    20404: Misconfigured,  # no such account (wrong AC sid in the path)
    10001: Misconfigured,  # account not active
    10002: Misconfigured,  # trial account has no credit / is suspended
    20429: Retryable,  # too many concurrent requests
    21210: Misconfigured,  # caller id not verified
    21212: Misconfigured,  # invalid From
    21213: Misconfigured,  # From required for calls
    21603: Misconfigured,  # no From and no Messaging Service
    21606: Misconfigured,  # From is not an SMS-capable number of this account
    21608: Misconfigured,  # trial account: To is not a verified caller id
    21659: Misconfigured,  # From is not a Twilio number
    21211: Rejected,  # invalid To
    21214: Rejected,  # To cannot be reached
    21215: Rejected,  # geo permission (calls)
    21216: Rejected,  # To is on Twilio's blocklist
    21217: Rejected,  # To is not a valid number (calls)
    21408: Rejected,  # geo permission (SMS)
    21610: Rejected,  # recipient unsubscribed (replied STOP)
    21612: Rejected,  # To unreachable from this From
    21614: Rejected,  # To is not a mobile number
    21617: Rejected,  # body too long
}


class TwilioConfig(TwilioCredentials):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(None, alias="from", description="E.164 number or sender id")
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")
    base_url: BaseUrl = "https://api.twilio.com"

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if value is None or E164.fullmatch(value) or ALPHANUMERIC_SENDER.is_name(value):
            return value
        raise ValueError(
            "must be an E.164 number (+14155550123) or an alphanumeric sender id of 1-11 "
            "letters, digits and spaces with at least one letter"
        )

    @model_validator(mode="after")
    def _has_sender(self) -> Self:
        if self.from_ is None and self.messaging_service_sid is None:
            raise ValueError("set from or messaging_service_sid: Twilio needs a sender")
        return self


class TwilioProvider:
    name: ClassVar[str] = "twilio"
    Config: ClassVar[type[TwilioConfig]] = TwilioConfig

    def __init__(self, config: TwilioConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._api = TwilioApi(config, config.base_url, http, provider=self.name, errors=ERRORS)
        self._account_path = f"/2010-04-01/Accounts/{config.sid}"

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms", "voice"} if self._caller_id() else {"sms"})

    def _caller_id(self) -> str | None:
        # Calls need a phone number as caller id; a sender id or a pool only carries SMS.
        sender = self._config.from_
        return sender if sender is not None and E164.fullmatch(sender) else None

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        form: dict[str, str | list[str]] = {"To": message.recipient, "Body": message.text}
        if message.sender:
            form["From"] = message.sender  # the template's sender, over the pool
        elif self._config.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self._config.messaging_service_sid
        elif self._config.from_ is not None:
            form["From"] = self._config.from_
        if message.callback_url:
            form["StatusCallback"] = message.callback_url
        seconds = message.validity(high=MAX_VALIDITY_SECONDS)
        if seconds is not None:
            form["ValidityPeriod"] = str(seconds)
        response = await self._api.post(f"{self._account_path}/Messages.json", form)
        body = self._api.resource(response)
        return SendResult(provider=self.name, provider_message_id=body["sid"], status="queued")

    async def place_call(self, message: OutgoingMessage) -> SendResult:
        wanted = message.sender
        caller_id = wanted if wanted and E164.fullmatch(wanted) else self._caller_id()
        if caller_id is None:
            raise Misconfigured(
                "twilio: voice calls need from set to a Twilio phone number (E.164)",
                code="no_voice_sender",
            )
        twiml = voice_twiml(message.text, message.code, message.locale)
        if len(twiml) > MAX_TWIML_CHARS:
            raise Rejected(
                f"twilio: the voice message is {len(twiml)} characters of TwiML, over "
                f"Twilio's {MAX_TWIML_CHARS}",
                code="twiml_too_long",
            )
        form: dict[str, str | list[str]] = {
            "To": message.recipient,
            "From": caller_id,
            "Twiml": twiml,
            "Timeout": RING_TIMEOUT_SECONDS,
        }
        if message.callback_url:
            form["StatusCallback"] = message.callback_url
            form["StatusCallbackEvent"] = CALL_EVENTS
        response = await self._api.post(f"{self._account_path}/Calls.json", form)
        body = self._api.resource(response)
        return SendResult(provider=self.name, provider_message_id=body["sid"], status="queued")


def voice_twiml(text: str, code: str | None, locale: str) -> str:
    """TwiML reading ``text`` aloud: one ``<Say>`` per stretch between VOICE_PAUSE marks,
    a ``<Pause>`` between them, and the code read once more unless the text says it twice."""
    language, voice = pick_locale(locale, VOICES) or VOICES["en"]
    segments = [part.strip() for part in text.split(VOICE_PAUSE) if part.strip()]
    if code:
        spoken = ", ".join(code)
        if text.count(spoken) < 2:
            segments.append(spoken + ".")
    root = ET.Element("Response")
    for index, segment in enumerate(segments):
        if index:
            ET.SubElement(root, "Pause", length="1")
        say = ET.SubElement(root, "Say", language=language, voice=voice)
        say.text = segment
    # ElementTree escapes text and attributes, so a template cannot inject TwiML verbs.
    return ET.tostring(root, encoding="unicode")


# -- receipts and signatures ------------------------------------------------------------------

_MESSAGE_STATUSES: dict[str, ReceiptStatus] = {
    "queued": "queued",
    "accepted": "queued",
    "scheduled": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
_CALL_STATUSES: dict[str, ReceiptStatus] = {
    "queued": "queued",
    "initiated": "queued",
    "ringing": "sent",
    "in-progress": "sent",
    "completed": "delivered",
    "busy": "undelivered",
    "no-answer": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def parse_receipt(form: Mapping[str, str]) -> Receipt | None:
    """A receipt from a message or call status callback (§1.5); None for anything else.
    Unknown keys are ignored: Twilio's parameter set varies by channel."""
    if form.get("MessageSid") and form.get("MessageStatus"):
        sid, status = form["MessageSid"], _MESSAGE_STATUSES.get(form["MessageStatus"])
    elif form.get("CallSid") and form.get("CallStatus"):
        sid, status = form["CallSid"], _CALL_STATUSES.get(form["CallStatus"])
    else:
        return None
    if status is None:
        return None
    return Receipt(provider_message_id=sid, status=status, error_code=form.get("ErrorCode") or None)


def valid_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str | Sequence[str]],
    signature: str,
    *,
    body: bytes | None = None,
) -> bool:
    """Check ``X-Twilio-Signature`` as §1.7 describes it (twilio-python's RequestValidator):
    HMAC-SHA1 under the Auth Token of the URL followed by each form parameter, sorted by name
    (a repeated name's values sorted too); the URL is accepted with or without its default
    port. For a JSON-bodied webhook (``bodySHA256`` in the query) pass the raw ``body``: its
    hash must match and only the URL is signed."""
    query = parse_qs(urlsplit(url).query)
    if "bodySHA256" in query:
        if body is None:
            return False
        expected_hash = hashlib.sha256(body).hexdigest().encode()
        if not hmac.compare_digest(expected_hash, query["bodySHA256"][0].encode()):
            return False
        params = {}
    given = signature.encode()
    return any(
        hmac.compare_digest(_signature(auth_token, candidate, params).encode(), given)
        for candidate in _port_variants(url)
    )


def _signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    payload = url
    for name in sorted(params):
        values = params[name]
        for value in sorted([values] if isinstance(values, str) else values):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    """``url`` as given, plus with its default port added or removed."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or (port is not None and port != default):
        return [url]
    other = f"{hostport}:{default}" if port is None else hostport.rsplit(":", 1)[0]
    return [url, urlunsplit(parts._replace(netloc=userinfo + at + other))]
