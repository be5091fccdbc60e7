"""Prebuilt statements run on SQLite without SQLAlchemy's per-statement machinery.

Each ``AsyncConnection.execute`` spawns a greenlet, builds an execution context, looks the
statement up in the compiled cache and wraps the cursor in a result: on the hot paths that
cost several times what SQLite takes to run an indexed statement (docs/benchmarks.md). The
statements the repositories build once at import are compiled here once per parameter
shape, with SQLAlchemy's own compiler, bind processors and result processors, and run
through the one-trip driver (``sqlite_driver``) inside the connection's open transaction.
What comes back are SQLAlchemy ``Row`` objects, and errors are SQLAlchemy's ``DBAPIError``
classes, exactly as ``execute`` would give them.

Anything else — PostgreSQL, a statement with expanding parameters or Python-side defaults,
a connection with no transaction begun — goes through ``AsyncConnection.execute``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import await_

from phonegate.storage.sqlite_driver import run_on_driver

Processor = Any  # a result processor (a callable) or None


_FROM_PARAMS = object()


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # Per positional parameter: its name, its value when the statement fixes it (else
    # _FROM_PARAMS) and its bind processor.
    sources: tuple[tuple[str, Any, Processor], ...]
    meta: SimpleResultMetaData | None
    results: list[Processor] | None


class FastResult:
    """The part of SQLAlchemy's ``CursorResult`` the repositories use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row[Any]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Row[Any]]:
        return iter(self._rows)

    def first(self) -> Row[Any] | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Row[Any]]:
        return list(self._rows)

    def one(self) -> Row[Any]:
        if len(self._rows) != 1:
            raise (
                sa.exc.NoResultFound("one row was expected")
                if not self._rows
                else (sa.exc.MultipleResultsFound("one row was expected"))
            )
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


_UNSUPPORTED = object()
_plans: dict[tuple[Any, ...], _Plan | object] = {}
# Plans are kept for statements built once; a caller handing in fresh statements would
# only fill the cache, so past this many the rest take SQLAlchemy's path.
MAX_PLANS = 1024


def _plan(statement: Any, dialect: Any, keys: tuple[str, ...], many: bool) -> _Plan | object:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)
    if (
        compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.positiontup is None
    ):
        return _UNSUPPORTED  # SQLAlchemy's execution context has work to do for these
    meta: SimpleResultMetaData | None = None
    results: list[Processor] | None = None
    if compiled._result_columns:
        names = [column[0] for column in compiled._result_columns]
        if len(set(names)) != len(names):
            return _UNSUPPORTED
        meta = SimpleResultMetaData(names)
        results = [
            column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns
        ]
        if not any(results):
            results = None
    binds = compiled._bind_processors or {}
    sources: list[tuple[str, Any, Processor]] = []
    for name in compiled.positiontup:
        bind, process = compiled.binds[name], binds.get(name)
        if name in keys:
            sources.append((name, _FROM_PARAMS, process))
        elif bind.callable is not None or bind.required:
            return _UNSUPPORTED
        else:  # a literal of the statement, processed once
            value = bind.effective_value
            sources.append((name, process(value) if process else value, None))
    return _Plan(compiled.string, tuple(sources), meta, results)


def _positional(plan: _Plan, params: dict[str, Any]) -> list[Any]:
    values = []
    for name, fixed, process in plan.sources:
        value = params[name] if fixed is _FROM_PARAMS else fixed
        values.append(process(value) if process is not None else value)
    return values


async def execute(
    conn: AsyncConnection,
    statement: Any,
    params: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> Any:
    """``conn.execute(statement, params)``, through the short path where it applies."""
    sync = conn.sync_connection
    if conn.dialect.name != "sqlite" or sync is None or not sync.in_transaction():
        return await conn.execute(statement, params)
    batch = params if isinstance(params, list) else None
    if batch is not None and not batch:
        return await conn.execute(statement, params)
    first: dict[str, Any] = batch[0] if batch else params or {}  # type: ignore[assignment]
    key = (statement, tuple(sorted(first)), batch is not None)
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) >= MAX_PLANS:
            return await conn.execute(statement, params)
        plan = _plans[key] = _plan(statement, conn.dialect, key[1], batch is not None)
    if not isinstance(plan, _Plan):
        return await conn.execute(statement, params)
    values: Any = [_positional(plan, p) for p in batch] if batch else _positional(plan, first)
    many = batch is not None
    rows, rowcount = await _on_driver(sync, plan.sql, values, many)
    if plan.meta is None:
        return FastResult([], rowcount)
    meta, results, index = plan.meta, plan.results, plan.meta._key_to_index
    return FastResult([Row(meta, results, index, raw) for raw in rows], rowcount)


async def _on_driver(
    sync: sa.Connection, sql: str, values: Any, many: bool
) -> tuple[list[Any], int]:
    """Run on the connection's driver, as SQLAlchemy would: its cursor events fire (so
    tracing sees every statement) and driver errors become SQLAlchemy's."""
    if sync._has_events or sync.engine._has_events:
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, sql, values, None, many)
    try:
        return await run_on_driver(sync.connection.dbapi_connection, sql, values, many)
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(
            sql,
            values,
            exc,
            sqlite3.Error,
            hide_parameters=sync.engine.hide_parameters,
            dialect=sync.dialect,
            ismulti=many,
        ) from exc


def run_in_greenlet(sync: sa.Connection, sql: str) -> None:
    """A statement without parameters or rows (``BEGIN``) from SQLAlchemy's synchronous
    side (an event listener), on the driver directly."""
    await_(_on_driver(sync, sql, None, False))
