"""What a dispatcher pass costs the database: a claimed batch reads its context once and
begins its first attempts in the claim's transaction, an idle pass takes no write
transaction it does not need, and a preparation that fails takes the careful path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from phonegate.bootstrap import Credentials
from phonegate.container import Container
from phonegate.delivery.dispatcher import Dispatcher
from phonegate.domain.events import new_event
from phonegate.domain.models import RequestContext
from tests.conftest import Api
from tests.delivery.test_dispatcher import (
    all_events,
    default_tenant,
    enqueue_enrollment,
    inbox_rows,
    outbox_rows,
)

CTX = RequestContext(ip="203.0.113.9", user_agent="pytest")


@contextmanager
def statements(container: Container) -> Iterator[list[str]]:
    """Every statement the container's engine runs inside the block, whitespace folded."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = container.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def reading(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and f" FROM {table}" in s]


async def three_queued(api: Api, container: Container, creds: Credentials) -> None:
    await api.enable_mfa()
    for _ in range(3):
        await enqueue_enrollment(container, creds)


async def test_a_batch_reads_its_tenant_and_chain_once(
    api: Api, container: Container, creds: Credentials
) -> None:
    await three_queued(api, container, creds)
    with statements(container) as seen:
        assert await container.dispatcher.run_once() == 3
    assert len(reading(seen, "tenants")) == 1
    assert len(reading(seen, "phone_providers")) == 1
    # The lease was taken in the same transaction: the first attempts renew nothing.
    assert not [s for s in seen if s.startswith("UPDATE outbox_messages SET claimed_until")]
    assert len([s for s in seen if s.startswith("INSERT INTO delivery_attempts")]) == 3
    assert {row.status for row in await outbox_rows(container)} == {"sent"}
    assert len(await inbox_rows(container)) == 3


async def test_a_pass_that_found_everything_claims_once(
    api: Api, container: Container, creds: Credentials
) -> None:
    await three_queued(api, container, creds)
    with statements(container) as seen:
        assert await container.dispatcher.run_once() == 3
    claims = [s for s in seen if s.startswith("WITH due AS")]
    assert len(claims) == 1  # not once more after each send ended
    assert await container.dispatcher.run_once() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_idle_pass_takes_one_write_transaction(container: Container) -> None:
    await container.dispatcher.run_once()  # the pool's connections are set up
    with statements(container) as seen:
        assert await container.dispatcher.run_once() == 0
    # The claim writes; the look for due feedback only reads.
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


async def test_a_failed_preparation_takes_the_careful_path(
    api: Api,
    container: Container,
    creds: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await three_queued(api, container, creds)
    real = Dispatcher._plan
    calls: list[str] = []

    async def flaky(self: Dispatcher, uow: Any, message: Any) -> Any:
        calls.append(message.id)
        if len(calls) == 1:
            raise RuntimeError("the provider configuration could not be read")
        return await real(self, uow, message)

    monkeypatch.setattr(Dispatcher, "_plan", flaky)
    assert await container.dispatcher.run_once() == 3
    rows = await outbox_rows(container)
    assert {row.status for row in rows} == {"sent"}
    assert len(await inbox_rows(container)) == 3
    # The first message was prepared again on its own; the rest of the batch was not held up.
    assert calls.count(calls[0]) == 2


def writer(container: Container, tenant: Any, type_: str, description: str) -> Any:
    """A record that logs one event, as a sent message's record does."""

    async def write(uow: Any) -> None:
        event = new_event(tenant.id, type_, container.clock.now(), CTX, description=description)
        await uow.events.add(event)

    return write


def ours(seen: list[str]) -> int:
    return len([s for s in seen if s.startswith("INSERT INTO log_events")])


async def test_sends_that_end_together_are_recorded_in_one_transaction(
    container: Container, creds: Credentials
) -> None:
    tenant = await default_tenant(container)
    dispatcher = container.dispatcher

    types = ("s", "fp", "fu")
    with statements(container) as seen:
        await asyncio.gather(
            *(dispatcher._record_together(writer(container, tenant, t, "batch")) for t in types)
        )
    # A unit of work writes its events as one statement: one statement, one transaction.
    assert ours(seen) == 1
    recorded = sorted(e.type for e in await all_events(container) if e.description == "batch")
    assert recorded == sorted(types)


async def test_one_bad_record_does_not_undo_the_others(
    container: Container, creds: Credentials
) -> None:
    tenant = await default_tenant(container)
    dispatcher = container.dispatcher

    good = writer(container, tenant, "s", "good")

    async def bad(uow: Any) -> None:
        raise RuntimeError("this record cannot be written")

    outcomes = await asyncio.gather(
        dispatcher._record_together(good),
        dispatcher._record_together(bad),
        dispatcher._record_together(good),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], RuntimeError)
    assert len([e for e in await all_events(container) if e.description == "good"]) == 2
