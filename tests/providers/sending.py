"""What provider tests send: a message with a code, and the capability that carries it."""

from __future__ import annotations

from typing import Any, Protocol

from phonegate.providers.base import ChannelName, OutgoingMessage, SendResult

CODE = "482913"
TEXT = f"Your code is {CODE}"


class SmsAndVoice(Protocol):
    async def send_sms(self, message: OutgoingMessage) -> SendResult: ...

    async def place_call(self, message: OutgoingMessage) -> SendResult: ...


def outgoing(recipient: str, channel: ChannelName = "sms", **fields: Any) -> OutgoingMessage:
    """A message carrying CODE to ``recipient``; ``fields`` set any other OutgoingMessage field."""
    defaults: dict[str, Any] = {"tenant_id": "tenant-1", "text": TEXT, "code": CODE}
    return OutgoingMessage(recipient=recipient, channel=channel, **(defaults | fields))


async def send(provider: SmsAndVoice, message: OutgoingMessage) -> SendResult:
    """Send ``message`` through the capability its channel needs."""
    if message.channel == "voice":
        return await provider.place_call(message)
    return await provider.send_sms(message)
