"""phonegate's own phone delivery resources: fallback providers, the delivery chain and the
messages sent (``web/management/phone.py``, ``domain/delivery_plan.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from phonegate.domain.models import Channel
from phonegate.providers.base import ReceiptStatus
from phonegate.web.management.schemas.branding import (
    PhoneProvider,
    ProviderChange,
    ProviderCreate,
)
from phonegate.web.management.schemas.common import TEXT, Strict, integer, omitted, query


class FallbackProvider(PhoneProvider):
    position: int


class FallbackProviders(Strict):
    providers: list[FallbackProvider]


class FallbackChange(ProviderChange):
    position: int = omitted(ge=0, le=1000, description="The order fallbacks are tried in.")


class FallbackCreate(ProviderCreate):
    position: int = omitted(
        ge=0, le=1000, description="The order fallbacks are tried in; default: after the last."
    )


class ChainStep(Strict):
    provider: str = Field(description="How events and attempts name this step.")
    kind: str = Field(description="The provider module, or a built-in name.")
    id: str | None = Field(description="The provider's or the action's id.")
    channels: list[Channel]


class DeliveryPlan(Strict):
    primary: str | None
    steps: list[ChainStep]
    problem: str | None = Field(description="Why nothing can carry the message, if so.")
    skipped: str | None = Field(description="Why the primary provider is left out, if so.")


class DeliveryChain(Strict):
    sms: DeliveryPlan
    voice: DeliveryPlan


class DeliveryReceipt(Strict):
    status: ReceiptStatus | None
    error_code: str | None
    updated_at: datetime | None


class SendAttempt(Strict):
    provider: str
    position: int
    started_at: datetime
    finished_at: datetime | None
    outcome: Literal["sent", "retry", "rejected", "misconfigured", "interrupted"] | None
    error_code: str | None
    error: str | None
    provider_message_id: str | None


class PhoneMessage(Strict):
    id: str
    channel: Channel
    recipient: str = Field(description="Masked.")
    status: Literal["pending", "sending", "sent", "failed", "expired"]
    provider: str | None
    provider_message_id: str | None
    delivery: DeliveryReceipt
    last_error: str | None
    user_id: str | None
    client_id: str | None
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime


class PhoneMessageDetail(PhoneMessage):
    attempts: list[SendAttempt]


MESSAGES_QUERY = [
    query("limit", integer(1, 200, 50), "How many of the newest messages."),
    query("recipient", TEXT, "Only those to this E.164 number."),
]
