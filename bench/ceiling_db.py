"""The work ceiling's database access: the bare async drivers phonegate sits on (aiosqlite,
asyncpg), one transaction at a time per request, no SQLAlchemy.

SQL is written once with ``:name`` parameters (sqlite3's own style) and turned into
asyncpg's ``$n`` on PostgreSQL. Values are passed as phonegate stores them: on SQLite,
timestamps in SQLAlchemy's text format (so comparisons with phonegate's rows hold), JSON as
text on both.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from phonegate.storage.db import normalize_url

Row = Mapping[str, Any]
# SQLAlchemy's storage format for DateTime on SQLite.
SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
_NAMED = re.compile(r"(?<!:):([a-z_]+)")


class Transaction(Protocol):
    async def row(self, sql: str, **params: Any) -> Row | None: ...

    async def rows(self, sql: str, **params: Any) -> list[Row]: ...

    async def run(self, sql: str, **params: Any) -> int:
        """Execute; returns the number of rows changed."""
        ...


class _SqliteTransaction:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @staticmethod
    def _values(params: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v.strftime(SQLITE_TIMESTAMP) if isinstance(v, datetime) else v
            for k, v in params.items()
        }

    async def row(self, sql: str, **params: Any) -> Row | None:
        async with self._conn.execute(sql, self._values(params)) as cursor:
            found: sqlite3.Row | None = await cursor.fetchone()
        return dict(found) if found is not None else None

    async def rows(self, sql: str, **params: Any) -> list[Row]:
        async with self._conn.execute(sql, self._values(params)) as cursor:
            return [dict(r) for r in await cursor.fetchall()]

    async def run(self, sql: str, **params: Any) -> int:
        async with self._conn.execute(sql, self._values(params)) as cursor:
            return int(cursor.rowcount)


async def _sqlite_connection(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL"):
        await conn.execute(f"PRAGMA {pragma}")
    return conn


class SqliteDatabase:
    """phonegate's discipline: write transactions queue on an asyncio lock and take the
    write lock up front (``BEGIN IMMEDIATE``); reads outside them use a second connection,
    which WAL lets read beside the writer."""

    def __init__(self, conn: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._conn, self._reader = conn, reader
        self._gate = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        return cls(await _sqlite_connection(path), await _sqlite_connection(path))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Transaction]:
        yield _SqliteTransaction(self._reader)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._gate:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTransaction(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def close(self) -> None:
        await self._conn.close()
        await self._reader.close()


@cache
def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` parameters as ``$1…``, a name used twice keeping its number."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


class _PostgresTransaction:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @staticmethod
    def _prepare(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        text, names = _positional(sql)
        return text, [params[name] for name in names]

    async def row(self, sql: str, **params: Any) -> Row | None:
        text, values = self._prepare(sql, params)
        found = await self._conn.fetchrow(text, *values)
        return dict(found) if found is not None else None

    async def rows(self, sql: str, **params: Any) -> list[Row]:
        text, values = self._prepare(sql, params)
        return [dict(r) for r in await self._conn.fetch(text, *values)]

    async def run(self, sql: str, **params: Any) -> int:
        text, values = self._prepare(sql, params)
        status: str = await self._conn.execute(text, *values)
        return int(status.rsplit(" ", 1)[-1])


class PostgresDatabase:
    """A pool as large as phonegate's (10, and 10 more on demand)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        dsn = make_url(normalize_url(url)).set(drivername="postgresql")
        pool = await asyncpg.create_pool(
            dsn.render_as_string(hide_password=False), min_size=1, max_size=20
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Transaction]:
        async with self._pool.acquire() as conn:
            yield _PostgresTransaction(conn)

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str) -> SqliteDatabase | PostgresDatabase:
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        return await SqliteDatabase.open(parsed.database)
    return await PostgresDatabase.open(url)
