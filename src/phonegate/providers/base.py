"""Provider capabilities, their typed errors, and the contract every provider module keeps.

A provider is small: a ``name``, the channels it carries, and one method per capability.
Vendor errors become one of three kinds the dispatcher acts on: ``Retryable`` (try again,
maybe elsewhere), ``Rejected`` (a definitive no for this message) and ``Misconfigured``
(nothing will work until an operator acts).

A provider module defines one class with ``name``, a pydantic ``Config`` (``extra="forbid"``,
secrets typed ``SecretStr`` so the API can keep them write-only) and an ``__init__(config,
http)`` that takes the shared outbound ``httpx.AsyncClient``. ``registry.py`` lists them.
The configuration field types and the formatting helpers at the end are the rules every
vendor module applies alike (base URLs, sender ids, numbers, validity periods, locales).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, SecretStr

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
    # A sender the message's template asks for (Branding ``content.from``), over the
    # provider's configured one; a vendor that cannot use it keeps its own.
    sender: str | None = None
    # Context for providers that pass it on (operator code, webhooks): client, user, request.
    metadata: dict[str, Any] = field(default_factory=dict)

    def validity(
        self, unit_seconds: int = 1, *, low: int = 1, high: int | None = None
    ) -> int | None:
        """``valid_for_seconds`` in whole units of ``unit_seconds``, rounded up and kept within
        the vendor's ``low``-``high`` range; None when the message has no validity."""
        if self.valid_for_seconds is None:
            return None
        units = max(math.ceil(self.valid_for_seconds / unit_seconds), low)
        return units if high is None else min(units, high)


# The outbox's provider_message_id column: a longer id from operator code is cut to fit.
MAX_ID_CHARS = 128


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


# -- configuration rules and formats the vendor modules share ---------------------------------

_T = TypeVar("_T")
_Text = TypeVar("_Text", str, SecretStr)

E164 = re.compile(r"\+[1-9]\d{1,14}")


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch in "?#" or ch.isspace() for ch in value)
    ):
        raise ValueError(
            "must be an http(s) URL with a host and no query string, fragment or spaces, "
            "such as https://api.example.com"
        )
    return value.rstrip("/")


# Where a vendor's API is reached: its own endpoint, a regional one, an egress proxy or a
# test fake. Stored without a trailing "/", so a module appends its paths to it.
BaseUrl = Annotated[str, AfterValidator(_base_url)]


def matching(pattern: str, message: str) -> AfterValidator:
    """A field validator refusing a value (or a secret's value) that ``pattern`` does not match
    whole, with ``message``: clearer when a configuration is saved than the bare pattern."""
    compiled = re.compile(pattern)

    def check(value: _Text) -> _Text:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not compiled.fullmatch(text):
            raise ValueError(message)
        return value

    return AfterValidator(check)


_LETTERS = frozenset(string.ascii_letters)
_NAME_CHARACTERS = _LETTERS | frozenset(string.digits)


@dataclass(frozen=True, slots=True)
class SenderRule:
    """A vendor's rule for the sender a message shows: a name of ASCII letters and digits (and
    spaces, where the vendor takes them) with at least one letter, or a number. A number may
    be given with its "+" and is kept without it, as the vendors that take numbers want it.

    Used as a pydantic validator: ``Annotated[str, AfterValidator(SenderRule(...))]``."""

    name_length: tuple[int, int] = (1, 11)
    number_length: tuple[int, int] | None = (1, 15)  # None: the vendor takes names only
    spaces: bool = True

    def is_name(self, value: str) -> bool:
        low, high = self.name_length
        allowed = _NAME_CHARACTERS | {" "} if self.spaces else _NAME_CHARACTERS
        return low <= len(value) <= high and set(value) <= allowed and bool(_LETTERS & set(value))

    def __call__(self, value: str) -> str:
        if self.is_name(value):
            return value
        if self.number_length is not None:
            digits = e164_digits(value)
            low, high = self.number_length
            if digits.isascii() and digits.isdigit() and low <= len(digits) <= high:
                return digits
        raise ValueError(self.describe())

    def describe(self) -> str:
        low, high = self.name_length
        characters = "letters, digits and spaces" if self.spaces else "letters and digits"
        rule = f"must be a sender name of {low}-{high} {characters} with at least one letter"
        if self.number_length is None:
            return rule
        low, high = self.number_length
        return f"{rule}, or a number of {low}-{high} digits"


def e164_digits(number: str) -> str:
    """An E.164 number as most vendors take it: the country code and number, without "+"."""
    return number.removeprefix("+")


def pick_locale(locale: str, table: Mapping[str, _T]) -> _T | None:
    """The entry for ``locale`` ("pt-BR", "fr_CA"), else for its language ("fr"), else None.
    Table keys are lower-case."""
    key = locale.strip().replace("_", "-").lower()
    found = table.get(key)
    return found if found is not None else table.get(key.split("-")[0])


def answered_id(answer: object) -> str | None:
    """The message id in an answer from operator code (an action's return value, a webhook's
    JSON body): a non-empty string, or a mapping's ``id`` or ``message_id`` that is a string
    or a whole number. Callers mask it where it may hold secrets, then cut it to MAX_ID_CHARS."""
    if isinstance(answer, Mapping):
        answer = answer.get("id") or answer.get("message_id")
        if isinstance(answer, int) and not isinstance(answer, bool):
            answer = str(answer)
    return answer if isinstance(answer, str) and answer else None
