"""Fixtures of the log stream tests: a receiver on 127.0.0.1 (so outbound requests may reach
private addresses), streams created through the Management API, and events written directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.events import new_event
from phonegate.logstream.shipper import Shipper
from phonegate.settings import Settings
from phonegate.storage import tables
from tests.conftest import Api, make_settings
from tests.fakes.log_receiver import LogReceiver

# No digit runs: ProviderError masks those, which would hide a leak from these tests.
AUTHORIZATION = "Bearer ingest-Qm7fXwZpLrTvHc"
SETTLE = 6.0  # past the shipper's settle_seconds


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, outbound_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[LogReceiver]:
    with LogReceiver(authorization=AUTHORIZATION) as server:
        yield server


async def create_stream(api: Api, receiver: LogReceiver, **body: Any) -> dict[str, Any]:
    sink = {
        "httpEndpoint": receiver.endpoint,
        "httpAuthorization": AUTHORIZATION,
        "httpContentFormat": "JSONLINES",
        **body.pop("sink", {}),
    }
    r = await api.mgmt(
        "POST", "/log-streams", json={"name": "siem", "type": "http", "sink": sink, **body}
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    receiver.trust(created["id"], created["sink"]["signingSecret"])
    return created


async def ship(container: Container, clock: FrozenClock, shipper: Shipper | None = None) -> int:
    """One shipper pass once the events written so far have settled."""
    clock.advance(SETTLE)
    return await (shipper or container.shipper).run_once()


async def tenant_id(container: Container) -> str:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("phonegate.test")
    assert tenant is not None
    return tenant.id


async def add_events(container: Container, tenant: str, type_: str, count: int) -> None:
    async with container.unit_of_work() as uow:
        for n in range(count):
            event = new_event(tenant, type_, container.clock.now(), details={"n": n})
            await uow.events.add(event)


async def cursor(container: Container, tenant: str, stream_id: str) -> str:
    async with container.unit_of_work() as uow:
        stream = await uow.log_streams.get(tenant, stream_id)
    assert stream is not None
    return stream.cursor


async def stored_after(container: Container, tenant: str, after: str) -> list[str]:
    """The tenant's log_ids after ``after``, in order: what a stream starting there owes."""
    c = tables.log_events.c
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(c.log_id).where(c.tenant_id == tenant, c.log_id > after).order_by(c.log_id)
        )
        return list(rows.scalars())
