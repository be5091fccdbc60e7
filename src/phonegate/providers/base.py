"""Provider capabilities and their typed errors.

A provider is small: a ``name``, the channels it carries, and one method per capability.
Vendor errors become one of three kinds the dispatcher acts on: ``Retryable`` (try again,
maybe elsewhere), ``Rejected`` (a definitive no for this message) and ``Misconfigured``
(nothing will work until an operator acts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

ChannelName = Literal["sms", "voice"]


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
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
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    provider_message_id: str | None = None


@runtime_checkable
class SmsSender(Protocol):
    name: str

    async def send_sms(self, message: OutgoingMessage) -> SendResult: ...


@runtime_checkable
class VoiceSender(Protocol):
    name: str

    async def place_call(self, message: OutgoingMessage) -> SendResult: ...


class Inbox(Protocol):
    """Where the built-in providers deliver instead of a carrier (storage implements it)."""

    async def deliver(
        self, message: OutgoingMessage, provider: str, now: datetime, lifetime_cap: int | None
    ) -> str | None:
        """Store the message; return its id, or None when the lifetime cap is reached."""
        ...
