"""The token buckets behind every limit, on each backend: SqlCounters on SQLite and
PostgreSQL, RedisCounters on Redis. Time is driven explicitly through ``now``."""

from __future__ import annotations

import asyncio
import math
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from phonegate.container import Container
from phonegate.domain.ports import Counters, Taken
from phonegate.storage.redis_counters import RedisCounters
from tests.conftest import REDIS_URL, make_settings, need

T0 = 1_700_000_000.0
HOURLY = 1 / 3600  # one token an hour, the per-user refill


class OwnTransactions:
    """SqlCounters with each call in its own unit of work, as concurrent requests run."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def take(
        self, key: str, *, capacity: int, per_second: float, now: float, cost: int = 1
    ) -> Taken:
        async with self.container.unit_of_work() as uow:
            return await uow.counters.take(
                key, capacity=capacity, per_second=per_second, now=now, cost=cost
            )

    async def give_back(
        self, key: str, *, capacity: int, per_second: float, now: float, amount: int = 1
    ) -> None:
        async with self.container.unit_of_work() as uow:
            await uow.counters.give_back(
                key, capacity=capacity, per_second=per_second, now=now, amount=amount
            )

    async def spend(self, key: str, *, limit: int, now: float) -> Taken:
        async with self.container.unit_of_work() as uow:
            return await uow.counters.spend(key, limit=limit, now=now)

    async def unspend(self, key: str, *, now: float) -> None:
        async with self.container.unit_of_work() as uow:
            await uow.counters.unspend(key, now=now)

    async def purge_stale(self, *, now: float, idle_seconds: float) -> int:
        async with self.container.unit_of_work() as uow:
            return await uow.counters.purge_stale(now=now, idle_seconds=idle_seconds)

    async def block(self, key: str, *, until: float, now: float) -> None:
        async with self.container.unit_of_work() as uow:
            await uow.counters.block(key, until=until, now=now)

    async def blocked_until(self, key: str, *, now: float) -> float | None:
        async with self.container.unit_of_work() as uow:
            return await uow.counters.blocked_until(key, now=now)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the buckets live: a database URL, or the Redis URL."""
    if request.param == "redis":
        return need(REDIS_URL, "PHONEGATE_TEST_REDIS_URL")
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_migrated")
        return url  # every test uses its own keys, so nothing needs truncating
    target = tmp_path / "counters.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def counters(backend: str, tmp_path: Path) -> AsyncIterator[Counters]:
    if backend.startswith("redis"):
        import redis.asyncio as redis

        client = redis.from_url(backend)
        prefix = f"phonegate-test:{secrets.token_hex(6)}:"
        try:
            yield RedisCounters(client, prefix=prefix)
        finally:
            async for key in client.scan_iter(match=prefix + "*"):
                await client.delete(key)
            await client.aclose()
        return
    async with Container(make_settings(backend, tmp_path)) as container:
        yield OwnTransactions(container)


@pytest.fixture
def key() -> str:
    return f"bucket-{secrets.token_hex(6)}"


async def drain(counters: Counters, key: str, capacity: int, now: float = T0) -> list[Taken]:
    return [
        await counters.take(key, capacity=capacity, per_second=HOURLY, now=now)
        for _ in range(capacity)
    ]


async def test_a_bucket_allows_exactly_its_capacity(counters: Counters, key: str) -> None:
    taken = await drain(counters, key, 10)
    assert [t.allowed for t in taken] == [True] * 10
    assert [t.remaining for t in taken] == list(range(9, -1, -1))

    refused = await counters.take(key, capacity=10, per_second=HOURLY, now=T0)
    assert refused == Taken(allowed=False, remaining=0, retry_after=pytest.approx(3600))


async def test_refills_at_its_rate(counters: Counters, key: str) -> None:
    await drain(counters, key, 10)

    half = await counters.take(key, capacity=10, per_second=HOURLY, now=T0 + 1800)
    assert not half.allowed and half.retry_after == pytest.approx(1800)
    one = await counters.take(key, capacity=10, per_second=HOURLY, now=T0 + 3600)
    assert one.allowed and one.remaining == 0
    again = await counters.take(key, capacity=10, per_second=HOURLY, now=T0 + 3600)
    assert not again.allowed and again.retry_after == pytest.approx(3600)


async def test_never_refills_above_capacity(counters: Counters, key: str) -> None:
    await counters.take(key, capacity=10, per_second=HOURLY, now=T0)

    later = T0 + 100 * 3600  # idle long enough for 100 tokens
    taken = await drain(counters, key, 10, now=later)
    assert [t.allowed for t in taken] == [True] * 10 and taken[0].remaining == 9
    refused = await counters.take(key, capacity=10, per_second=HOURLY, now=later)
    assert not refused.allowed


async def test_give_back_restores_up_to_capacity(counters: Counters, key: str) -> None:
    await drain(counters, key, 3)
    await counters.give_back(key, capacity=3, per_second=HOURLY, now=T0)
    assert (await counters.take(key, capacity=3, per_second=HOURLY, now=T0)).allowed
    assert not (await counters.take(key, capacity=3, per_second=HOURLY, now=T0)).allowed

    await counters.give_back(key, capacity=3, per_second=HOURLY, now=T0, amount=50)
    taken = await drain(counters, key, 3)
    assert [t.allowed for t in taken] == [True] * 3
    assert not (await counters.take(key, capacity=3, per_second=HOURLY, now=T0)).allowed


async def test_retry_after_counts_the_tokens_missing(counters: Counters, key: str) -> None:
    rate = 1 / 360  # one wrong code back every six minutes
    await counters.take(key, capacity=5, per_second=rate, now=T0, cost=4)

    short = await counters.take(key, capacity=5, per_second=rate, now=T0, cost=3)
    assert not short.allowed and short.remaining == 1
    assert short.retry_after == pytest.approx(2 * 360)
    never = await counters.take(key, capacity=5, per_second=rate, now=T0, cost=6)
    assert not never.allowed and math.isinf(never.retry_after)
    fixed = await counters.take(key + "-day", capacity=1, per_second=0.0, now=T0)
    assert fixed.allowed
    spent = await counters.take(key + "-day", capacity=1, per_second=0.0, now=T0 + 10**6)
    assert not spent.allowed and math.isinf(spent.retry_after)


async def test_an_earlier_timestamp_neither_refills_nor_drains(
    counters: Counters, key: str
) -> None:
    # Two processes' clocks differ by a little, and a request that read the clock first may
    # take second: its take must not lose the token it would get, nor count time twice.
    for _ in range(9):
        await counters.take(key, capacity=10, per_second=HOURLY, now=T0)

    late = await counters.take(key, capacity=10, per_second=HOURLY, now=T0 - 1)
    assert late.allowed
    early = await counters.take(key, capacity=10, per_second=HOURLY, now=T0 + 3599)
    assert not early.allowed and early.retry_after == pytest.approx(1)
    assert (await counters.take(key, capacity=10, per_second=HOURLY, now=T0 + 3600)).allowed


async def test_blocks_expire(counters: Counters, key: str) -> None:
    assert await counters.blocked_until(key, now=T0) is None
    await counters.block(key, until=T0 + 900, now=T0)

    assert await counters.blocked_until(key, now=T0 + 899) == T0 + 900
    assert await counters.blocked_until(key, now=T0 + 900) is None
    assert await counters.blocked_until(key + "-other", now=T0) is None


async def test_hundred_concurrent_takes_allow_exactly_capacity(
    counters: Counters, key: str
) -> None:
    results = await asyncio.gather(
        *(counters.take(key, capacity=10, per_second=HOURLY, now=T0) for _ in range(100))
    )

    assert sum(r.allowed for r in results) == 10
    assert sorted(r.remaining for r in results if r.allowed) == list(range(10))


async def test_a_take_in_a_rolled_back_transaction_takes_nothing(container: Container) -> None:
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with container.unit_of_work() as uow:
            assert (await uow.counters.take("rolled", capacity=1, per_second=0.0, now=T0)).allowed
            raise Abandoned

    async with container.unit_of_work() as uow:
        assert (await uow.counters.take("rolled", capacity=1, per_second=0.0, now=T0)).allowed


async def test_spend_counts_against_the_limit_read_at_each_call(
    counters: Counters, key: str
) -> None:
    spent = [(await counters.spend(key, limit=2, now=T0)).allowed for _ in range(3)]
    assert spent == [True, True, False]
    # Raising the limit takes effect at once (a day's budget raised after it was spent).
    assert (await counters.spend(key, limit=3, now=T0)).remaining == 0
    assert not (await counters.spend(key, limit=3, now=T0)).allowed
    await counters.unspend(key, now=T0)
    assert (await counters.spend(key, limit=3, now=T0)).allowed


async def test_stale_buckets_and_ended_blocks_are_purged(counters: Counters, key: str) -> None:
    await counters.take(key, capacity=3, per_second=HOURLY, now=T0)
    await counters.block(key, until=T0 + 60, now=T0)
    assert await counters.purge_stale(now=T0 + 30, idle_seconds=3600) in (0,)  # both live
    assert (await counters.take(key, capacity=3, per_second=HOURLY, now=T0 + 30)).remaining == 1
    purged = await counters.purge_stale(now=T0 + 7200, idle_seconds=3600)
    if isinstance(counters, RedisCounters):
        assert purged == 0  # Redis keys expire on their own
    else:
        assert purged >= 2  # this bucket and block (and older rows of other tests)
        assert (
            await counters.take(key, capacity=3, per_second=HOURLY, now=T0 + 7200)
        ).remaining == 2
        assert await counters.blocked_until(key, now=T0 + 7200) is None
