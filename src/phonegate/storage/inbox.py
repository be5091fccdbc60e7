"""The built-in providers' inbox, with the evaluation provider's lifetime cap enforced
atomically in the same transaction as the delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from phonegate import ids
from phonegate.domain.models import InboxMessage
from phonegate.providers.base import OutgoingMessage
from phonegate.storage.repositories import SqlUnitOfWork


class SqlInbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def deliver(
        self, message: OutgoingMessage, provider: str, now: datetime, lifetime_cap: int | None
    ) -> str | None:
        async with self._engine.begin() as conn:
            uow = SqlUnitOfWork(conn)
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
