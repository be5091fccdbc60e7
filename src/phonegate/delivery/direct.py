"""Sending one message right away, outside the outbox: the Management API's "Send Test
Message" (``/try``) endpoints, which exist to show the operator the provider's own answer.

Nothing here stores a code; test messages carry a fixed sample code, so a leaked test
message grants nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from phonegate import ids
from phonegate.delivery.chain import ChainBuilder, send_through
from phonegate.domain.delivery_plan import Step
from phonegate.domain.models import Channel
from phonegate.domain.phone_templates import SAMPLE_CODE
from phonegate.providers.base import OutgoingMessage, ProviderError, Retryable

TEST_CODE = SAMPLE_CODE
TRY_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class TryResult:
    provider: str
    ok: bool
    status: str | None = None
    provider_message_id: str | None = None
    error: str | None = None
    error_kind: str | None = None  # retryable | rejected | misconfigured
    error_code: str | None = None

    def json(self) -> dict[str, object]:
        body: dict[str, object] = {"name": self.provider, "ok": self.ok}
        if self.ok:
            body.update(status=self.status, message_id=self.provider_message_id)
        else:
            body.update(error=self.error, kind=self.error_kind, code=self.error_code)
        return body


async def send_test(
    builder: ChainBuilder,
    step: Step,
    *,
    tenant_id: str,
    recipient: str,
    channel: Channel,
    text: str,
    locale: str,
) -> TryResult:
    message = OutgoingMessage(
        tenant_id=tenant_id,
        recipient=recipient,
        channel=channel,
        text=text,
        # A hosted verifier makes its own code (Twilio Verify's check mode).
        code=None if step.hosted else TEST_CODE,
        locale=locale,
        message_id=ids.prefixed("try"),
        kind="test",
        valid_for_seconds=300,
    )
    try:
        built = builder.build(step)
        async with asyncio.timeout(TRY_TIMEOUT_SECONDS):
            result = await send_through(built, message)
    except TimeoutError:
        return TryResult(
            step.label,
            False,
            error="the provider did not answer in time",
            error_kind="retryable",
            error_code="timeout",
        )
    except ProviderError as exc:
        kind = type(exc).__name__.lower() if not isinstance(exc, Retryable) else "retryable"
        return TryResult(step.label, False, error=exc.message, error_kind=kind, error_code=exc.code)
    return TryResult(
        result.provider, True, status=result.status, provider_message_id=result.provider_message_id
    )
