"""Log streams and their delivery cursors, the events the shipper reads, and the counts the
spike alerts need (the ``LogStreamRepo`` port).

A shipper claims a stream by setting ``claimed_until`` in a guarded UPDATE (as outbox claims
do), and that value is its lease: moving the cursor or recording a failure is guarded on it,
so a shipper whose lease lapsed (and was claimed by another) changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate.clock import as_utc
from phonegate.domain.models import LogEvent, LogStream
from phonegate.storage import tables as t

# isPriority has no column of its own; it travels in the sink JSON under this key.
_PRIORITY = "isPriority"


def _stream(row: sa.Row[Any]) -> LogStream:
    m = row._mapping
    sink = dict(m["sink"])
    optional_times = {
        key: as_utc(m[key]) if m[key] else None for key in ("next_attempt_at", "claimed_until")
    }
    return LogStream(
        id=m["id"],
        tenant_id=m["tenant_id"],
        name=m["name"],
        type=m["type"],
        status=m["status"],
        is_priority=bool(sink.pop(_PRIORITY, False)),
        sink=sink,
        secrets=m["secrets"],
        filters=list(m["filters"]),
        cursor=m["cursor"],
        failures=m["failures"],
        last_error=m["last_error"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
        **optional_times,
    )


def _settings(stream: LogStream) -> dict[str, Any]:
    """The columns the Management API changes (never the cursor, the lease or the status)."""
    return {
        "name": stream.name,
        "sink": {**stream.sink, _PRIORITY: stream.is_priority},
        "secrets": stream.secrets,
        "filters": stream.filters,
        "updated_at": stream.updated_at,
    }


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class SqlLogStreamRepo:
    table = t.log_streams

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def list_for_tenant(self, tenant_id: str) -> list[LogStream]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(self.table).where(c.tenant_id == tenant_id).order_by(c.created_at, c.id)
        )
        return [_stream(r) for r in rows]

    async def get(self, tenant_id: str, stream_id: str) -> LogStream | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.id == stream_id)
            )
        ).first()
        return _stream(row) if row else None

    async def add(self, stream: LogStream) -> None:
        values = asdict(stream)
        del values["is_priority"]
        await self.conn.execute(self.table.insert().values({**values, **_settings(stream)}))

    async def update(self, stream: LogStream) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == stream.tenant_id, c.id == stream.id)
            .values(_settings(stream))
        )

    async def set_status(self, tenant_id: str, stream_id: str, status: str, now: datetime) -> None:
        """Pause or resume; resuming starts afresh, without the failure backoff."""
        c = self.table.c
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "active":
            values.update(failures=0, next_attempt_at=None)
        await self.conn.execute(
            self.table.update().where(c.tenant_id == tenant_id, c.id == stream_id).values(values)
        )

    async def delete(self, tenant_id: str, stream_id: str) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.id == stream_id)
        )
        return _rowcount(result) == 1

    # -- the shipper -----------------------------------------------------------------------

    async def claim_due(
        self, now: datetime, lease_seconds: float, limit: int, after: str = ""
    ) -> list[LogStream]:
        """Claim up to ``limit`` active streams whose turn it is, in id order from ``after``
        (a pass pages through them all), each with a lease until now + lease_seconds."""
        c = self.table.c
        due = sa.and_(
            c.status == "active",
            sa.or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
            sa.or_(c.claimed_until.is_(None), c.claimed_until < now),
        )
        until = now + timedelta(seconds=lease_seconds)
        claimed: list[LogStream] = []
        # A candidate another process claims first is skipped, not the end of the pass:
        # keep paging until enough are won or none are left.
        while len(claimed) < limit:
            query = (
                sa.select(c.id)
                .where(due, c.id > after)
                .order_by(c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            candidates = (await self.conn.execute(query)).scalars().all()
            if not candidates:
                break
            for stream_id in candidates:
                result = await self.conn.execute(
                    self.table.update().where(c.id == stream_id, due).values(claimed_until=until)
                )
                if _rowcount(result) == 1:
                    row = (
                        await self.conn.execute(sa.select(self.table).where(c.id == stream_id))
                    ).one()
                    claimed.append(_stream(row))
                    if len(claimed) == limit:
                        break
            after = candidates[-1]
        return claimed

    async def events_after(
        self, tenant_id: str, cursor: str, types: frozenset[str] | None, limit: int
    ) -> list[LogEvent]:
        c = t.log_events.c
        query = sa.select(t.log_events).where(c.tenant_id == tenant_id, c.log_id > cursor)
        if types is not None:
            query = query.where(c.type.in_(sorted(types)))
        rows = await self.conn.execute(query.order_by(c.log_id).limit(limit))
        return [LogEvent(**{**r._mapping, "date": as_utc(r.date)}) for r in rows]

    def _held(self, stream_id: str, lease: datetime) -> sa.ColumnElement[bool]:
        c = self.table.c
        return sa.and_(c.id == stream_id, c.claimed_until == lease)

    async def try_advance(
        self, stream_id: str, lease: datetime, cursor: str, renew_until: datetime | None
    ) -> bool:
        """After a 2xx: move the cursor, forget past failures, and keep the lease until
        ``renew_until`` (more to send) or let it go (None). False when the lease was lost."""
        result = await self.conn.execute(
            self.table.update()
            .where(self._held(stream_id, lease))
            .values(
                cursor=cursor,
                failures=0,
                last_error=None,
                next_attempt_at=None,
                claimed_until=renew_until,
            )
        )
        return _rowcount(result) == 1

    async def release(self, stream_id: str, lease: datetime) -> None:
        await self.conn.execute(
            self.table.update().where(self._held(stream_id, lease)).values(claimed_until=None)
        )

    async def try_record_failure(
        self,
        stream_id: str,
        lease: datetime,
        *,
        failures: int,
        error: str,
        next_attempt_at: datetime,
        suspend: bool,
    ) -> bool:
        c = self.table.c
        values: dict[str, Any] = {
            "failures": failures,
            "last_error": error,
            "next_attempt_at": next_attempt_at,
            "claimed_until": None,
        }
        if suspend:
            # A pause the operator set meanwhile stays a pause.
            values["status"] = sa.case((c.status == "active", "suspended"), else_=c.status)
        result = await self.conn.execute(
            self.table.update().where(self._held(stream_id, lease)).values(values)
        )
        return _rowcount(result) == 1

    # -- spike alerts ----------------------------------------------------------------------

    async def tenants_with_alert_rules(self) -> list[str]:
        c = t.tenant_settings.c
        rows = await self.conn.execute(sa.select(c.tenant_id, c.alert_rules))
        return [r.tenant_id for r in rows if r.alert_rules]

    async def lock_alert_rules(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's rules, with its settings row locked until the transaction ends, so
        two processes checking the same rules take turns (SQLite's writer lock does that)."""
        c = t.tenant_settings.c
        rules = (
            await self.conn.execute(
                sa.select(c.alert_rules).where(c.tenant_id == tenant_id).with_for_update()
            )
        ).scalar_one_or_none()
        return list(rules or [])

    async def count_events(self, tenant_id: str, type_: str, since: datetime) -> int:
        c = t.log_events.c
        count = (
            await self.conn.execute(
                sa.select(sa.func.count())
                .select_from(t.log_events)
                .where(c.tenant_id == tenant_id, c.type == type_, c.date > since)
            )
        ).scalar_one()
        return int(count)

    async def alerts_since(self, tenant_id: str, since: datetime) -> list[dict[str, Any]]:
        """The details of the ``pg_alert`` events written after ``since``."""
        c = t.log_events.c
        rows = await self.conn.execute(
            sa.select(c.details).where(
                c.tenant_id == tenant_id, c.type == "pg_alert", c.date > since
            )
        )
        return [dict(details) for details in rows.scalars()]
