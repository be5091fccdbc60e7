"""Provider capabilities, their typed errors, and the contract every provider module keeps.

A provider is small: a ``name``, the channels it carries, and one method per capability.
Vendor errors become one of three kinds the dispatcher acts on: ``Retryable`` (try again,
maybe elsewhere), ``Rejected`` (a definitive no for this message) and ``Misconfigured``
(nothing will work until an operator acts).

A provider module defines one class with ``name``, a pydantic ``Config`` (``extra="forbid"``,
secrets typed ``SecretStr`` so the API can keep them write-only) and an ``__init__(config,
http)`` that takes the shared outbound ``httpx.AsyncClient``. ``registry.py`` lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel

ChannelName = Literal["sms", "voice"]
MessageKind = Literal["enrollment", "verification", "passwordless", "test"]
ReceiptStatus = Literal["queued", "sent", "delivered", "undelivered", "failed"]

# The rendered voice text marks a pause with this (Auth0's ``{{ pause }}``); a vendor with a
# pause verb (TwiML ``<Pause>``) turns it into one, others read it as a breath.
VOICE_PAUSE = "..."

# Long digit runs in vendor messages are phone numbers ("The 'To' number +15551234567 is not
# a valid phone number."): events and logs must never hold a full number.
_DIGIT_RUN = re.compile(r"\+?\d[\d \-]{5,}\d")


def scrub(text: str) -> str:
    """Mask every run of six or more digits but its last four (numbers, codes)."""

    def _mask(match: re.Match[str]) -> str:
        digits = match.group(0)
        return "X" * (len(digits) - 4) + digits[-4:]

    return _DIGIT_RUN.sub(_mask, text)


class ProviderError(Exception):
    """A failed send. ``message`` is safe to log and show: digit runs are masked, and
    provider modules never put credentials in it. ``code`` is the vendor's error code."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        safe = scrub(message)[:500]
        super().__init__(safe)
        self.message = safe
        self.code = code


class Retryable(ProviderError):
    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Rejected(ProviderError):
    pass


class Misconfigured(ProviderError):
    pass


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    tenant_id: str
    recipient: str  # E.164
    channel: ChannelName
    text: str
    code: str | None
    locale: str = "en"
    # phonegate's outbox message id: an idempotency key where the vendor takes one.
    message_id: str = ""
    kind: MessageKind = "verification"
    # How long the code stays valid: vendors with a validity period drop it after this.
    valid_for_seconds: int | None = None
    # Where the vendor should post delivery receipts for this message, if it can.
    callback_url: str | None = None
    # Context for providers that pass it on (operator code, webhooks): client, user, request.
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    provider_message_id: str | None = None
    # What the vendor said of the message when it took it: usually "queued" or "sent".
    status: ReceiptStatus = "sent"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: what a vendor reported later about a message it took."""

    provider_message_id: str
    status: ReceiptStatus
    error_code: str | None = None


@runtime_checkable
class SmsSender(Protocol):
    name: str

    async def send_sms(self, message: OutgoingMessage) -> SendResult: ...


@runtime_checkable
class VoiceSender(Protocol):
    name: str

    async def place_call(self, message: OutgoingMessage) -> SendResult: ...


@runtime_checkable
class HostedVerifier(Protocol):
    """The provider owns the code (Twilio Verify's own check): phonegate stores none."""

    name: str

    async def start_verification(self, message: OutgoingMessage) -> SendResult:
        """Ask the vendor to generate and send a code; ``message.code`` is None."""
        ...

    async def check_verification(
        self, recipient: str, code: str, verification_id: str | None
    ) -> bool:
        """True when the vendor approves ``code``; False for a wrong code."""
        ...


@runtime_checkable
class FeedbackReporter(Protocol):
    """Tells the vendor a code it delivered was used (Twilio Verify Fraud Guard needs it)."""

    name: str

    async def report_success(self, recipient: str, provider_message_id: str | None) -> None: ...


class ProviderClass(Protocol):
    """What the registry needs of a provider module's class."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    def __call__(self, config: Any, http: httpx.AsyncClient) -> Any: ...


class Inbox(Protocol):
    """Where the built-in providers deliver instead of a carrier (storage implements it)."""

    async def deliver(
        self, message: OutgoingMessage, provider: str, now: datetime, lifetime_cap: int | None
    ) -> str | None:
        """Store the message; return its id, or None when the lifetime cap is reached."""
        ...


def channels_of(provider: object) -> frozenset[str]:
    """The channels a provider instance can carry, from its capabilities (and its own
    ``channels`` attribute when its configuration narrows them)."""
    declared = getattr(provider, "channels", None)
    if declared is not None:
        return frozenset(declared)
    found = set()
    if isinstance(provider, SmsSender):
        found.add("sms")
    if isinstance(provider, VoiceSender):
        found.add("voice")
    return frozenset(found)
