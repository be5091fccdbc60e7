"""The built-in providers' inbox, with the evaluation provider's lifetime cap enforced
atomically in the same transaction as the delivery."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from phonegate import ids
from phonegate.domain.models import InboxMessage
from phonegate.domain.ports import UnitOfWork
from phonegate.providers.base import OutgoingMessage


class SqlInbox:
    def __init__(self, unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]]) -> None:
        self._unit_of_work = unit_of_work

    async def deliver(
        self, message: OutgoingMessage, provider: str, now: datetime, lifetime_cap: int | None
    ) -> str | None:
        async with self._unit_of_work() as uow:
            if lifetime_cap is not None and not await uow.tenants.try_count_evaluation_message(
                message.tenant_id, lifetime_cap
            ):
                return None
            record = InboxMessage(
                id=ids.prefixed("sbx"),
                tenant_id=message.tenant_id,
                provider=provider,
                recipient=message.recipient,
                channel=message.channel,
                text=message.text,
                code=message.code,
                created_at=now,
            )
            await uow.inbox.add(record)
            return record.id
