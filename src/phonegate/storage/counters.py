"""Token buckets in the database, for when Redis is not configured.

One statement per take: an ``INSERT … ON CONFLICT DO UPDATE … WHERE <enough tokens>``
that refills the bucket by the time elapsed and takes the cost, or changes nothing. The row
lock it takes (PostgreSQL) or the single writer (SQLite) makes it atomic across processes,
and it runs in the request's transaction, so a request that rolls back takes nothing.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate.domain.ports import Taken
from phonegate.storage import fast_sql
from phonegate.storage import tables as t


def _least(a: sa.ColumnElement[float], b: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    return sa.case((a < b, a), else_=b)


def _greatest(a: sa.ColumnElement[float], b: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    return sa.case((a > b, a), else_=b)


# The statements are built once, with their values as parameters: building these nested
# CASE expressions anew for every take cost more than running them (docs/benchmarks.md).
_KEY = sa.bindparam("bucket_key", type_=sa.String)  # not "key": a column's name
_NOW = sa.bindparam("now", type_=sa.Float)
_CAPACITY = sa.bindparam("capacity", type_=sa.Float)
_PER_SECOND = sa.bindparam("per_second", type_=sa.Float)
_COST = sa.bindparam("cost", type_=sa.Float)
_AMOUNT = sa.bindparam("amount", type_=sa.Float)
_LIMIT = sa.bindparam("limit", type_=sa.Float)


def _refilled() -> sa.ColumnElement[float]:
    # A call stamped before the bucket's last one (another process's clock, or a request
    # that read the clock before a concurrent one took) adds no time: negative elapsed
    # time would refuse a token that is there.
    b = t.rate_buckets
    elapsed = _greatest(_NOW - b.c.updated_at, sa.literal(0.0))
    return _least(b.c.tokens + elapsed * _PER_SECOND, _CAPACITY)


def _latest_stamp() -> sa.ColumnElement[float]:
    # Never move the stamp back, or the next call would count the same seconds twice.
    return _greatest(t.rate_buckets.c.updated_at, _NOW)


_BLOCKED_UNTIL = sa.select(t.rate_blocks.c.until).where(
    t.rate_blocks.c.key == sa.bindparam("p_key")
)


@cache
def _take(dialect: str) -> Any:
    b = t.rate_buckets
    insert = _insert_for(dialect)(b).values(key=_KEY, tokens=_CAPACITY - _COST, updated_at=_NOW)
    refilled = _refilled()
    return insert.on_conflict_do_update(
        index_elements=[b.c.key],
        set_={"tokens": refilled - _COST, "updated_at": _latest_stamp()},
        where=refilled >= _COST,
    ).returning(b.c.tokens)


@cache
def _give_back() -> Any:
    b = t.rate_buckets
    return (
        b.update()
        .where(b.c.key == _KEY)
        .values(tokens=_least(_refilled() + _AMOUNT, _CAPACITY), updated_at=_latest_stamp())
    )


@cache
def _spend(dialect: str) -> Any:
    b = t.rate_buckets
    insert = _insert_for(dialect)(b).values(key=_KEY, tokens=sa.literal(1.0), updated_at=_NOW)
    return insert.on_conflict_do_update(
        index_elements=[b.c.key],
        set_={"tokens": b.c.tokens + 1, "updated_at": _latest_stamp()},
        where=b.c.tokens < _LIMIT,
    ).returning(b.c.tokens)


def _insert_for(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


class SqlCounters:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._dialect = conn.dialect.name
        self._insert = _insert_for(self._dialect)

    async def take(
        self, key: str, *, capacity: int, per_second: float, now: float, cost: int = 1
    ) -> Taken:
        if cost > capacity:
            return Taken(False, 0, math.inf)
        b = t.rate_buckets
        values = {
            "bucket_key": key,
            "capacity": float(capacity),
            "per_second": per_second,
            "now": now,
            "cost": float(cost),
        }
        row = (await fast_sql.execute(self.conn, _take(self._dialect), values)).first()
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
        await fast_sql.execute(
            self.conn,
            _give_back(),
            {
                "bucket_key": key,
                "capacity": float(capacity),
                "per_second": per_second,
                "now": now,
                "amount": float(amount),
            },
        )

    async def spend(self, key: str, *, limit: int, now: float) -> Taken:
        values = {"bucket_key": key, "now": now, "limit": float(limit)}
        row = (
            (await fast_sql.execute(self.conn, _spend(self._dialect), values)).first()
            if limit > 0
            else None
        )
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
        row = (await fast_sql.execute(self.conn, _BLOCKED_UNTIL, {"p_key": key})).first()
        until = row[0] if row is not None else None
        return until if until is not None and until > now else None
