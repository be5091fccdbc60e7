"""The built-in providers that deliver into the inbox instead of a carrier.

``auth0`` is the evaluation provider exactly as Auth0 describes its own: SMS only, and at most
100 messages over the tenant's whole life. ``sandbox`` is for development: SMS and voice, no
cap, and refused in production. Both share one inbox, readable through the Management API
(``GET /api/v2/sandbox/messages``) and ``phonegate outbox``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from phonegate.providers.base import Inbox, Misconfigured, OutgoingMessage, Rejected, SendResult

EVALUATION_LIFETIME_CAP = 100


class InboxProvider:
    def __init__(
        self,
        name: str,
        inbox: Inbox,
        *,
        voice: bool,
        lifetime_cap: int | None,
        allowed: bool = True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._inbox = inbox
        self._voice = voice
        self._cap = lifetime_cap
        self._allowed = allowed
        self._now = now

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms", "voice"} if self._voice else {"sms"})

    async def _deliver(self, message: OutgoingMessage) -> SendResult:
        if not self._allowed:
            raise Misconfigured(f"the {self.name} provider is disabled in production")
        if message.channel not in self.channels:
            raise Rejected(
                f"the {self.name} provider cannot send {message.channel} messages",
                code="unsupported_channel",
            )
        message_id = await self._inbox.deliver(message, self.name, self._now(), self._cap)
        if message_id is None:
            # An operator must configure a real provider: fallbacks are tried, and the
            # failure is an admin event too.
            raise Misconfigured(
                f"the {self.name} evaluation provider has sent its lifetime limit of "
                f"{self._cap} messages for this tenant; configure a delivery provider",
                code="too_many_sms_per_tenant",
            )
        return SendResult(provider=self.name, provider_message_id=message_id)

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        return await self._deliver(message)

    async def place_call(self, message: OutgoingMessage) -> SendResult:
        return await self._deliver(message)


def evaluation_provider(inbox: Inbox) -> InboxProvider:
    return InboxProvider("auth0", inbox, voice=False, lifetime_cap=EVALUATION_LIFETIME_CAP)


def sandbox_provider(inbox: Inbox, *, production: bool) -> InboxProvider:
    return InboxProvider("sandbox", inbox, voice=True, lifetime_cap=None, allowed=not production)
