"""Token buckets in the database, for when Redis is not configured.

One statement per take: an ``INSERT … ON CONFLICT DO UPDATE … WHERE <enough tokens>``
that refills the bucket by the time elapsed and takes the cost, or changes nothing. The row
lock it takes (PostgreSQL) or the single writer (SQLite) makes it atomic across processes,
and it runs in the request's transaction, so a request that rolls back takes nothing.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate.domain.ports import Taken
from phonegate.storage import tables as t


def _least(a: sa.ColumnElement[float], b: float) -> sa.ColumnElement[float]:
    return sa.case((a < b, a), else_=b)


def _greatest(a: sa.ColumnElement[float], b: float) -> sa.ColumnElement[float]:
    return sa.case((a > b, a), else_=b)


def _refilled(capacity: int, per_second: float, now: float) -> sa.ColumnElement[float]:
    # A call stamped before the bucket's last one (another process's clock, or a request
    # that read the clock before a concurrent one took) adds no time: negative elapsed
    # time would refuse a token that is there.
    b = t.rate_buckets
    elapsed = _greatest(now - b.c.updated_at, 0.0)
    return _least(b.c.tokens + elapsed * per_second, float(capacity))


def _latest_stamp(now: float) -> sa.ColumnElement[float]:
    # Never move the stamp back, or the next call would count the same seconds twice.
    return _greatest(t.rate_buckets.c.updated_at, now)


class SqlCounters:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert

    async def take(
        self, key: str, *, capacity: int, per_second: float, now: float, cost: int = 1
    ) -> Taken:
        if cost > capacity:
            return Taken(False, 0, math.inf)
        b = t.rate_buckets
        refilled = _refilled(capacity, per_second, now)
        insert = self._insert(b).values(key=key, tokens=float(capacity - cost), updated_at=now)
        statement = insert.on_conflict_do_update(
            index_elements=[b.c.key],
            set_={"tokens": refilled - cost, "updated_at": _latest_stamp(now)},
            where=refilled >= cost,
        ).returning(b.c.tokens)
        row = (await self.conn.execute(statement)).first()
        if row is not None:
            return Taken(True, int(row.tokens), 0.0)
        current = (
            await self.conn.execute(sa.select(b.c.tokens, b.c.updated_at).where(b.c.key == key))
        ).one()
        elapsed = max(0.0, now - current.updated_at)
        tokens = min(capacity, current.tokens + elapsed * per_second)
        wait = (cost - tokens) / per_second if per_second > 0 else math.inf
        return Taken(False, int(tokens), max(wait, 0.0))

    async def give_back(
        self, key: str, *, capacity: int, per_second: float, now: float, amount: int = 1
    ) -> None:
        b = t.rate_buckets
        refilled = _refilled(capacity, per_second, now)
        await self.conn.execute(
            b.update()
            .where(b.c.key == key)
            .values(
                tokens=_least(refilled + amount, float(capacity)), updated_at=_latest_stamp(now)
            )
        )

    async def spend(self, key: str, *, limit: int, now: float) -> Taken:
        b = t.rate_buckets
        insert = self._insert(b).values(key=key, tokens=1.0, updated_at=now)
        statement = insert.on_conflict_do_update(
            index_elements=[b.c.key],
            set_={"tokens": b.c.tokens + 1, "updated_at": _latest_stamp(now)},
            where=b.c.tokens < limit,
        ).returning(b.c.tokens)
        row = (await self.conn.execute(statement)).first() if limit > 0 else None
        if row is not None:
            return Taken(True, limit - int(row.tokens), 0.0)
        return Taken(False, 0, math.inf)

    async def unspend(self, key: str, *, now: float) -> None:
        b = t.rate_buckets
        await self.conn.execute(
            b.update().where(b.c.key == key, b.c.tokens > 0).values(tokens=b.c.tokens - 1)
        )

    async def purge_stale(self, *, now: float, idle_seconds: float) -> int:
        """Forget buckets untouched for ``idle_seconds`` (refilled long since, or a past
        day's budget) and blocks that have ended."""
        buckets = await self.conn.execute(
            t.rate_buckets.delete().where(t.rate_buckets.c.updated_at < now - idle_seconds)
        )
        blocks = await self.conn.execute(t.rate_blocks.delete().where(t.rate_blocks.c.until < now))
        return int(buckets.rowcount or 0) + int(blocks.rowcount or 0)

    async def block(self, key: str, *, until: float, now: float) -> None:
        r = t.rate_blocks
        statement = self._insert(r).values(key=key, until=until)
        await self.conn.execute(
            statement.on_conflict_do_update(index_elements=[r.c.key], set_={"until": until})
        )

    async def blocked_until(self, key: str, *, now: float) -> float | None:
        r = t.rate_blocks
        until = (
            await self.conn.execute(sa.select(r.c.until).where(r.c.key == key))
        ).scalar_one_or_none()
        return until if until is not None and until > now else None
