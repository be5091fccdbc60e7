"""Reading the tenant log for the logs API, and purging it for retention.

Every statement starts with the tenant and is served by an index of ``log_events``:
(tenant_id, date) for listings and date ranges, (tenant_id, type, date) for ``type:``,
(tenant_id, user_id) for ``user_id:``. Checkpoint reads walk the primary key (log_id) forward.
The query arrives as ``domain.logs``' AST; its values only ever become bound parameters.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from phonegate import ids
from phonegate.clock import as_utc
from phonegate.domain.logs import DateRange, LogQuery, Match
from phonegate.domain.models import LogEvent
from phonegate.storage import tables as t

_c = t.log_events.c
_MATCH_COLUMNS: dict[str, sa.Column[Any]] = {
    "type": _c.type,
    "user_id": _c.user_id,
    "client_id": _c.client_id,
    "ip": _c.ip,
}

# A checkpoint reader must never step past an event that is still to commit with a smaller
# log_id: on PostgreSQL, concurrent transactions commit out of id order. Events are shown to
# checkpoint readers once they are this old; no transaction that writes one lasts that long.
SETTLE_SECONDS = 2.0


def _where(tenant_id: str, query: LogQuery) -> list[ColumnElement[bool]]:
    where = [_c.tenant_id == tenant_id]
    for term in query.terms:
        if isinstance(term, Match):
            where.append(_MATCH_COLUMNS[term.field].in_(term.values))
        elif isinstance(term, DateRange):
            if term.since is not None:
                where.append(
                    _c.date >= term.since if term.since_inclusive else _c.date > term.since
                )
            if term.until is not None:
                where.append(
                    _c.date <= term.until if term.until_inclusive else _c.date < term.until
                )
    return where


def search_statement(
    tenant_id: str, query: LogQuery, *, offset: int, limit: int, newest_first: bool
) -> Select[Any]:
    # log_id breaks ties between events of the same instant, so pages never overlap.
    order = (_c.date.desc(), _c.log_id.desc()) if newest_first else (_c.date, _c.log_id)
    return (
        sa.select(t.log_events)
        .where(*_where(tenant_id, query))
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )


def checkpoint_statement(tenant_id: str, after: str, limit: int) -> Select[Any]:
    # Log ids start with the wall-clock nanoseconds (ids.log_id), so a moment's smallest id
    # is a horizon in id order: events still settling lie beyond it.
    settled = ids.log_id_at(time.time_ns() - int(SETTLE_SECONDS * 1e9))
    return (
        sa.select(t.log_events)
        .where(_c.tenant_id == tenant_id, _c.log_id > after, _c.log_id < settled)
        .order_by(_c.log_id)
        .limit(limit)
    )


def _event(row: sa.Row[Any]) -> LogEvent:
    # The table's columns are LogEvent's fields; SQLite hands dates back naive.
    return LogEvent(**{**row._mapping, "date": as_utc(row.date)})


class SqlLogSearch:
    def __init__(
        self,
        conn: AsyncConnection,
        before_reading: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.conn = conn
        # Events this transaction added are written before it searches (SqlEventRepo).
        self._before_reading = before_reading

    async def _flush(self) -> None:
        if self._before_reading is not None:
            await self._before_reading()

    async def get(self, tenant_id: str, log_id: str) -> LogEvent | None:
        await self._flush()
        row = (
            await self.conn.execute(
                sa.select(t.log_events).where(_c.tenant_id == tenant_id, _c.log_id == log_id)
            )
        ).first()
        return _event(row) if row else None

    async def search(
        self, tenant_id: str, query: LogQuery, *, offset: int, limit: int, newest_first: bool
    ) -> list[LogEvent]:
        await self._flush()
        statement = search_statement(
            tenant_id, query, offset=offset, limit=limit, newest_first=newest_first
        )
        return [_event(row) for row in await self.conn.execute(statement)]

    async def count(self, tenant_id: str, query: LogQuery) -> int:
        await self._flush()
        statement = (
            sa.select(sa.func.count()).select_from(t.log_events).where(*_where(tenant_id, query))
        )
        return int((await self.conn.execute(statement)).scalar_one())

    async def after(self, tenant_id: str, log_id: str, limit: int) -> list[LogEvent]:
        await self._flush()
        statement = checkpoint_statement(tenant_id, log_id, limit)
        return [_event(row) for row in await self.conn.execute(statement)]

    async def purge_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` events dated before ``cutoff``, tenant by tenant so that each
        statement is a range of the (tenant_id, date) index."""
        tenant_ids = (await self.conn.execute(sa.select(t.tenants.c.id))).scalars().all()
        deleted = 0
        for tenant_id in tenant_ids:
            if deleted >= limit:
                break
            oldest = (
                sa.select(_c.log_id)
                .where(_c.tenant_id == tenant_id, _c.date < cutoff)
                .limit(limit - deleted)
            )
            result = await self.conn.execute(t.log_events.delete().where(_c.log_id.in_(oldest)))
            assert isinstance(result, CursorResult)
            deleted += int(result.rowcount)
        return deleted
