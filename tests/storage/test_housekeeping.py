"""Housekeeping: what the hourly pass deletes, and what it must never touch."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.storage import tables as t
from phonegate.storage.repositories import SqlUnitOfWork
from tests.conftest import Api


async def counts(container: Container) -> dict[str, int]:
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        return {
            table.name: (
                await uow.conn.execute(sa.select(sa.func.count()).select_from(table))
            ).scalar_one()
            for table in (t.outbox_messages, t.delivery_attempts, t.inbox_messages)
        }


async def test_old_delivery_records_go_and_pending_messages_stay(
    api: Api, container: Container, creds: Credentials, clock: FrozenClock
) -> None:
    await api.enable_mfa()
    await api.enrolled_user()  # one message sent: an outbox row, an attempt, an inbox entry
    before = await counts(container)
    assert before == {"outbox_messages": 1, "delivery_attempts": 1, "inbox_messages": 1}
    # A message still waiting (the dispatcher did not run) is never purged, however old.
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        row = (await uow.conn.execute(sa.select(t.outbox_messages))).one()._mapping
        await uow.conn.execute(
            t.outbox_messages.insert().values(
                {**row, "id": "msg_waiting", "status": "pending", "payload": "x"}
            )
        )

    await container.purge_delivery_records(clock.now() + timedelta(hours=25))
    assert await counts(container) == {
        "outbox_messages": 2,
        "delivery_attempts": 1,
        "inbox_messages": 0,
    }

    later = clock.now() + timedelta(days=container.settings.log_retention_days + 1)
    await container.purge_delivery_records(later)
    assert await counts(container) == {
        "outbox_messages": 1,
        "delivery_attempts": 0,
        "inbox_messages": 0,
    }
