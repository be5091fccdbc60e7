"""Provider feedback: telling a vendor that a code it delivered was used.

Twilio Verify's Fraud Guard learns from it (the seeds insist it be sent after each successful
login). A successful mfa-oob grant marks the challenge's messages "due"; each is claimed by
one dispatcher (a guarded UPDATE), sent once, and marked done or failed. Best effort: a
failure is logged, not retried, and never blocks a login.
"""

from __future__ import annotations

import logging

from phonegate.delivery.chain import ChainBuilder
from phonegate.domain.delivery_plan import Step
from phonegate.domain.phone_providers import spec_for
from phonegate.domain.ports import UnitOfWorkFactory
from phonegate.providers.base import FeedbackReporter

log = logging.getLogger("phonegate.delivery")
FEEDBACK_BATCH = 50


async def send_feedback(
    uow_factory: UnitOfWorkFactory,
    chain: ChainBuilder,
    reading: UnitOfWorkFactory | None = None,
) -> int:
    """Send the feedback that is due; ``reading`` (a read-only factory) looks first, so the
    usual case, nothing due, takes no write transaction."""
    if reading is not None:
        async with reading() as uow:
            if not await uow.outbox.feedback_due():
                return 0
    async with uow_factory() as uow:
        due = await uow.outbox.claim_feedback(FEEDBACK_BATCH)
    for message in due:
        status = "done"
        try:
            async with uow_factory() as uow:
                row = (
                    await uow.phone_providers.get(message.tenant_id, message.provider_config_id)
                    if message.provider_config_id
                    else None
                )
            if row is not None:
                spec = spec_for(row, {})
                built = chain.build(Step(row.name, spec.kind, spec.channels, row=row))
                if isinstance(built.provider, FeedbackReporter):
                    await built.provider.report_success(
                        message.recipient, message.provider_message_id
                    )
        except Exception:
            status = "failed"
            log.warning("feedback for message %s could not be sent", message.id)
        async with uow_factory() as uow:
            await uow.outbox.set_feedback(message.id, status)
    return len(due)
