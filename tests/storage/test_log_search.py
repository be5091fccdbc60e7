"""The tenant log's search, checkpoint paging, index use and retention purge, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from phonegate.container import Container
from phonegate.domain.events import new_event
from phonegate.domain.logs import LogQuery, parse_query
from phonegate.domain.models import LogEvent, RequestContext, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.logstream import retention
from phonegate.storage import log_search
from phonegate.storage import tables as t
from phonegate.storage.log_search import checkpoint_statement, search_statement
from tests.storage.test_repositories import add_tenant, sql

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


async def add_event(
    container: Container,
    tenant: Tenant,
    type_: str = "gd_send_sms",
    date: datetime = T0,
    *,
    user_id: str | None = None,
    client_id: str | None = None,
    ip: str | None = None,
) -> LogEvent:
    event = new_event(
        tenant.id, type_, date, RequestContext(ip=ip), user_id=user_id, client_id=client_id
    )
    async with container.unit_of_work() as uow:
        await uow.events.add(event)
    return event


async def search(container: Container, tenant: Tenant, q: str = "", **kw: Any) -> list[str]:
    options: dict[str, Any] = {"offset": 0, "limit": 100, "newest_first": True, **kw}
    async with container.unit_of_work() as uow:
        found = await uow.log_search.search(tenant.id, parse_query(q), **options)
    return [e.log_id for e in found]


@pytest.fixture
async def tenants(container: Container) -> tuple[Tenant, Tenant]:
    return await add_tenant(container, "acme"), await add_tenant(container, "other")


@pytest.fixture
def no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_search, "SETTLE_SECONDS", 0.0)


# --- search -------------------------------------------------------------------------------


async def test_each_filter_and_their_conjunction(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, other = tenants
    sms = (await add_event(container, acme, user_id="auth0|a", client_id="c1")).log_id
    voice = (
        await add_event(container, acme, "gd_send_voice", user_id="auth0|b", ip="10.0.0.1")
    ).log_id
    login = (
        await add_event(container, acme, "s", user_id="auth0|a", client_id="c2", ip="::1")
    ).log_id
    await add_event(container, other, "gd_send_sms", user_id="auth0|a", client_id="c1")

    cases = {
        "": {sms, voice, login},
        "type:gd_send_sms": {sms},
        "type:(gd_send_sms OR gd_send_voice)": {sms, voice},
        'user_id:"auth0|a"': {sms, login},
        "client_id:c1": {sms},
        "ip:10.0.0.1": {voice},
        'ip:"::1"': {login},
        'user_id:"auth0|a" AND client_id:c2': {login},
        'user_id:"auth0|a" type:gd_send_voice': set(),
        "type:nothing_like_this": set(),
    }
    for q, expected in cases.items():
        assert set(await search(container, acme, q)) == expected, q


async def test_date_ranges(container: Container, tenants: tuple[Tenant, Tenant]) -> None:
    acme, _ = tenants
    days = [T0 + timedelta(days=i) for i in range(4)]  # 10th..13th, 12:00
    events = [await add_event(container, acme, date=d) for d in days]
    midnight = await add_event(container, acme, date=datetime(2026, 1, 12, tzinfo=UTC))
    ids = [e.log_id for e in events]

    cases = {
        # A bare day covers the whole day, at either end.
        "date:[2026-01-11 TO 2026-01-12]": {ids[1], ids[2], midnight.log_id},
        "date:{2026-01-11 TO 2026-01-12}": set(),
        "date:{2026-01-10 TO 2026-01-12}": {ids[1]},
        "date:{2026-01-11 TO 2026-01-13]": {ids[2], ids[3], midnight.log_id},
        "date:[2026-01-12 TO *]": {ids[2], ids[3], midnight.log_id},
        "date:[* TO 2026-01-11]": {ids[0], ids[1]},
        # Times are exact; an offset is converted to UTC.
        "date:[2026-01-12T00:00:00Z TO 2026-01-12T12:00:00Z}": {midnight.log_id},
        "date:{2026-01-12T00:00:00Z TO 2026-01-12T12:00:00Z]": {ids[2]},
        'date:["2026-01-12T13:00:00+01:00" TO "2026-01-12T13:00:00+01:00"]': {ids[2]},
        "date:[2026-01-12T12:00:00 TO 2026-01-12T12:00:00]": {ids[2]},
        "date:[* TO *]": {*ids, midnight.log_id},
        "date:[2026-01-13 TO 2026-01-10]": set(),
    }
    for q, expected in cases.items():
        assert set(await search(container, acme, q)) == expected, q


async def test_pages_are_sorted_and_never_overlap(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, _ = tenants
    # Ties on date (a frozen clock) are broken by log_id, so paging stays stable.
    dates = [T0 + timedelta(minutes=random.choice([0, 1, 2])) for _ in range(11)]
    events = [await add_event(container, acme, date=d) for d in dates]
    oldest_first = [e.log_id for e in sorted(events, key=lambda e: (e.date, e.log_id))]

    for newest_first, expected in ((True, oldest_first[::-1]), (False, oldest_first)):
        pages = [
            await search(container, acme, offset=o, limit=4, newest_first=newest_first)
            for o in (0, 4, 8)
        ]
        assert [len(p) for p in pages] == [4, 4, 3]
        assert [i for p in pages for i in p] == expected
    async with container.unit_of_work() as uow:
        assert await uow.log_search.count(acme.id, LogQuery()) == 11
        assert await uow.log_search.count(acme.id, parse_query("type:s")) == 0


async def test_get_is_scoped_to_the_tenant(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, other = tenants
    event = await add_event(container, acme, "s", user_id="auth0|a", ip="1.2.3.4")
    async with container.unit_of_work() as uow:
        assert await uow.log_search.get(acme.id, event.log_id) == event
        assert await uow.log_search.get(other.id, event.log_id) is None
        assert await uow.log_search.get(acme.id, "0" * 64) is None


async def test_quoted_values_are_data_not_sql(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, _ = tenants
    await add_event(container, acme)
    for q in (
        'type:"x\' OR 1=1 --"',
        'user_id:"a\'); DELETE FROM log_events; --"',
        'client_id:"\\" OR \\"\\"=\\""',
    ):
        assert await search(container, acme, q) == [], q
    assert len(await search(container, acme)) == 1


# --- indexes --------------------------------------------------------------------------------


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + str(compiler.process(element.statement, **kw))


@compiles(Explain, "postgresql")
def _explain_postgres(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN " + str(compiler.process(element.statement, **kw))


async def plan(uow: UnitOfWork, statement: Any) -> str:
    conn = sql(uow)
    if conn.dialect.name == "postgresql":
        # The test table is small: ask whether an index *can* serve the query.
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = await conn.execute(Explain(statement))
    return "\n".join(str(r[-1]) for r in rows)


async def seed_like_production(container: Container, tenant: Tenant, other: Tenant) -> None:
    """Thousands of events over two tenants, many users and a few common types, with the
    planner's statistics gathered (``ANALYZE``; SQLite's ``PRAGMA optimize`` does the same)."""
    rng = random.Random(7)
    common = ["gd_send_sms", "gd_start_auth", "gd_auth_succeed", "s", "seccft", "mfar"]
    rows = []
    for i in range(4000):
        event = new_event(
            tenant.id if i % 4 else other.id,
            "gd_send_voice" if i % 100 == 0 else rng.choice(common),
            T0 - timedelta(minutes=i),
            user_id=f"auth0|{rng.randrange(400)}",
        )
        rows.append(asdict(event))
    async with container.unit_of_work() as uow:
        await sql(uow).execute(t.log_events.insert(), rows)
    async with container.unit_of_work() as uow:
        await sql(uow).exec_driver_sql("ANALYZE")


async def test_common_searches_use_their_index(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, other = tenants
    await seed_like_production(container, acme, other)
    by_date, by_type = "ix_log_events_tenant_date", "ix_log_events_tenant_type_date"
    cases = {
        "": {by_date},
        "date:[2026-01-01 TO 2026-01-05]": {by_date},
        "type:gd_send_voice": {by_type},
        # With several types, walking the tenant's dates may cost less than sorting (SQLite's
        # statistics are averages): either way a tenant-first index.
        "type:(gd_send_voice OR gd_send_voice_failure)": {by_type, by_date},
        'user_id:"auth0|7"': {"ix_log_events_tenant_user"},
    }
    for q, indexes in cases.items():
        statement = search_statement(acme.id, parse_query(q), offset=0, limit=50, newest_first=True)
        async with container.unit_of_work() as uow:
            text = await plan(uow, statement)
        assert any(index in text for index in indexes), (q, text)
        assert "Seq Scan" not in text and "SCAN log_events" not in text, (q, text)
    async with container.unit_of_work() as uow:
        text = await plan(uow, checkpoint_statement(acme.id, "0", 50))
    assert "Seq Scan" not in text and "SCAN log_events" not in text, text


# --- checkpoint paging ------------------------------------------------------------------------


async def tail(container: Container, tenant: Tenant, after: str, take: int) -> list[LogEvent]:
    async with container.unit_of_work() as uow:
        return await uow.log_search.after(tenant.id, after, take)


async def test_checkpoint_pages_in_log_id_order(
    container: Container, tenants: tuple[Tenant, Tenant], no_settle: None
) -> None:
    acme, other = tenants
    # Dates out of order: checkpoint paging follows log_id, not date.
    events = [await add_event(container, acme, date=T0 - timedelta(days=i)) for i in range(5)]
    await add_event(container, other)
    first = await tail(container, acme, "0", 3)
    assert [e.log_id for e in first] == [e.log_id for e in events[:3]]
    rest = await tail(container, acme, first[-1].log_id, 3)
    assert [e.log_id for e in rest] == [e.log_id for e in events[3:]]
    assert await tail(container, acme, rest[-1].log_id, 3) == []


async def test_checkpoint_holds_back_events_until_they_settle(
    container: Container, tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, _ = tenants
    monkeypatch.setattr(log_search, "SETTLE_SECONDS", 0.5)
    event = await add_event(container, acme)
    assert await tail(container, acme, "0", 10) == []
    await asyncio.sleep(0.6)
    assert [e.log_id for e in await tail(container, acme, "0", 10)] == [event.log_id]


async def test_tailing_while_events_are_added_sees_each_once_in_order(
    container: Container, tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent writers whose transactions commit out of log_id order (on PostgreSQL) and a
    reader following the checkpoint: nothing is skipped, nothing is read twice."""
    acme, _ = tenants
    monkeypatch.setattr(log_search, "SETTLE_SECONDS", 0.3)
    written: list[str] = []

    async def writer() -> None:
        for _ in range(12):
            async with container.unit_of_work() as uow:
                event = new_event(acme.id, "gd_send_sms", T0)
                await uow.events.add(event)
                # Hold the transaction open after the id is taken.
                await asyncio.sleep(random.uniform(0, 0.03))
            written.append(event.log_id)

    read: list[str] = []
    cursor = "0"

    async def read_page() -> int:
        nonlocal cursor
        page = await tail(container, acme, cursor, 5)
        read.extend(e.log_id for e in page)
        cursor = page[-1].log_id if page else cursor
        return len(page)

    writers = asyncio.gather(*(writer() for _ in range(4)))
    while not writers.done():
        await read_page()
        await asyncio.sleep(0.01)
    await writers
    await asyncio.sleep(0.35)
    while await read_page():
        pass
    assert len(written) == 48
    assert read == sorted(written)


# --- retention --------------------------------------------------------------------------------


async def test_purge_deletes_only_what_is_older_than_the_window_in_batches(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, other = tenants
    now = T0
    old = [
        *[await add_event(container, acme, date=now - timedelta(days=31 + i)) for i in range(4)],
        *[await add_event(container, other, date=now - timedelta(days=40)) for _ in range(3)],
    ]
    kept = [
        await add_event(container, acme, date=now - timedelta(days=29)),
        await add_event(container, other, date=now - timedelta(days=30)),  # on the edge: kept
        await add_event(container, acme, date=now),
    ]
    transactions = 0

    @asynccontextmanager
    async def counting() -> AsyncIterator[UnitOfWork]:
        nonlocal transactions
        transactions += 1
        async with container.unit_of_work() as uow:
            yield uow

    assert await retention.purge(counting, now, 30, batch_size=3) == len(old)
    assert transactions == 3  # 3 + 3 + 1: each batch its own transaction
    remaining = set(await search(container, acme)) | set(await search(container, other))
    assert remaining == {e.log_id for e in kept}
    assert await retention.purge(container.unit_of_work, now, 30) == 0
    with pytest.raises(ValueError, match="at least one day"):
        await retention.purge(container.unit_of_work, now, 0)


async def test_purge_statement_is_bounded_by_the_batch(
    container: Container, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, other = tenants
    for tenant in (acme, other):
        for _ in range(3):
            await add_event(container, tenant, date=T0 - timedelta(days=90))
    async with container.unit_of_work() as uow:
        assert await uow.log_search.purge_before(T0, 4) == 4
    async with container.unit_of_work() as uow:
        left = await sql(uow).scalar(sa.text("SELECT count(*) FROM log_events"))
    assert left == 2
