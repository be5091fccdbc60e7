"""Units of work: reading ones never wait for the writer, and the events a unit of work adds
are written together at its commit — kept on a domain error, dropped on a crash."""

from __future__ import annotations

import asyncio

import pytest

from phonegate.container import Container
from phonegate.domain.events import new_event
from phonegate.domain.models import LogEvent, RequestContext, Tenant
from phonegate.errors import InvalidGrant
from phonegate.storage.repositories import SqlUnitOfWork
from tests.delivery.test_claim_batches import statements

CTX = RequestContext(ip="203.0.113.9", user_agent="pytest")
pytestmark = pytest.mark.usefixtures("creds")  # a bootstrapped tenant


async def tenant_of(container: Container) -> Tenant:
    async with container.reading() as uow:
        tenant = await uow.tenants.for_host("")
    assert tenant is not None
    return tenant


def event(container: Container, tenant: Tenant, type_: str) -> LogEvent:
    return new_event(tenant.id, type_, container.clock.now(), CTX, description=type_)


def ours(events: list[LogEvent]) -> list[str]:
    """The types of the events these tests wrote (bootstrap logs some of its own)."""
    return sorted(e.type for e in events if e.description == e.type)


async def logged(container: Container, tenant: Tenant) -> list[str]:
    async with container.reading() as uow:
        return ours(await uow.events.list(tenant.id, limit=100))


async def test_reading_does_not_wait_for_an_open_write_transaction(
    container: Container,
) -> None:
    tenant = await tenant_of(container)
    async with container.unit_of_work() as writer:
        await writer.events.add(event(container, tenant, "s"))
        await writer.flush()  # type: ignore[attr-defined]

        async def read() -> Tenant | None:
            async with container.reading() as uow:
                return await uow.tenants.get(tenant.id)

        # The writer holds SQLite's write lock and this process's queue for it.
        found = await asyncio.wait_for(read(), timeout=5)
        assert found is not None and found.id == tenant.id
        # A reader sees only what is committed.
        assert "s" not in await logged(container, tenant)
    assert "s" in await logged(container, tenant)


async def test_the_events_of_a_unit_of_work_are_one_statement_at_its_commit(
    container: Container,
) -> None:
    tenant = await tenant_of(container)
    with statements(container) as seen:
        async with container.unit_of_work() as uow:
            for type_ in ("gd_auth_succeed", "s", "seoobft"):
                await uow.events.add(event(container, tenant, type_))
            assert not [s for s in seen if "INSERT INTO log_events" in s]
    assert len([s for s in seen if s.startswith("INSERT INTO log_events")]) == 1
    assert await logged(container, tenant) == ["gd_auth_succeed", "s", "seoobft"]


async def test_a_unit_of_work_sees_the_events_it_added(container: Container) -> None:
    tenant = await tenant_of(container)
    async with container.unit_of_work() as uow:
        await uow.events.add(event(container, tenant, "fp"))
        listed = await uow.events.list(tenant.id)
        assert ours(listed) == ["fp"]
        mine = next(e for e in listed if e.type == "fp")
        found = await uow.log_search.get(tenant.id, mine.log_id)
        assert found is not None and found.type == "fp"


async def test_events_persist_through_a_domain_error_and_not_a_crash(
    container: Container,
) -> None:
    tenant = await tenant_of(container)
    with pytest.raises(InvalidGrant):
        async with container.unit_of_work() as uow:
            await uow.events.add(event(container, tenant, "fp"))
            raise InvalidGrant("Wrong email or password.")
    with pytest.raises(RuntimeError):
        async with container.unit_of_work() as uow:
            await uow.events.add(event(container, tenant, "fu"))
            raise RuntimeError("a bug")
    assert await logged(container, tenant) == ["fp"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_writers_share_one_connection_and_recover_from_a_crash(
    container: Container,
) -> None:
    tenant = await tenant_of(container)

    async def connection_of_a_write() -> object:
        async with container.unit_of_work() as uow:
            assert isinstance(uow, SqlUnitOfWork)
            await uow.events.add(event(container, tenant, "s"))
            return uow.conn

    first = await connection_of_a_write()
    assert await connection_of_a_write() is first  # kept, not checked out again
    with pytest.raises(InvalidGrant):  # a domain error commits and keeps the connection
        async with container.unit_of_work() as uow:
            raise InvalidGrant("Wrong email or password.")
    assert await connection_of_a_write() is first

    with pytest.raises(RuntimeError):
        async with container.unit_of_work() as uow:
            await uow.events.add(event(container, tenant, "fu"))
            raise RuntimeError("a bug")
    after_crash = await connection_of_a_write()
    assert after_crash is not first

    # A transaction cancelled half-way leaves nothing open for the next one.
    entered = asyncio.Event()

    async def stuck() -> None:
        async with container.unit_of_work() as uow:
            await uow.events.add(event(container, tenant, "fp"))
            await uow.flush()  # type: ignore[attr-defined]
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(stuck())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await connection_of_a_write() is not after_crash
    assert await logged(container, tenant) == ["s"] * 5  # neither the crash nor the cancel
