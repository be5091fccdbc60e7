"""Composition root: settings → keys, engine, repositories, providers, dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from phonegate.clock import Clock, SystemClock
from phonegate.delivery.chain import ChainBuilder
from phonegate.delivery.dispatcher import Dispatcher
from phonegate.delivery.hosted import HostedChecks
from phonegate.domain.deps import DomainDeps, Policy
from phonegate.domain.ports import Counters, UnitOfWork
from phonegate.errors import PhonegateError
from phonegate.keys import KeyRing, load_or_create_keyfile, parse_keys
from phonegate.logstream import retention
from phonegate.logstream.shipper import Shipper
from phonegate.metrics import Metrics
from phonegate.outbound import outbound_client
from phonegate.passwords import Argon2Passwords
from phonegate.providers.registry import BUILTIN_PROVIDERS, ProviderRegistry
from phonegate.settings import Settings
from phonegate.storage.db import READ_ONLY_OPTION, create_engine
from phonegate.storage.inbox import SqlInbox
from phonegate.storage.redis_counters import RedisCounters
from phonegate.storage.repositories import SqlUnitOfWork, reseal_all
from phonegate.tokens import (
    SigningKey,
    export_private_key,
    generate_signing_key,
    import_private_key,
)

HOUSEKEEPING_SECONDS = 3600.0
# A bucket idle this long has refilled (or is a past day's budget): its row can go.
STALE_BUCKETS = 7 * 86400.0
SANDBOX_INBOX_KEPT = timedelta(days=1)


@asynccontextmanager
async def _transaction_on(conn: AsyncConnection) -> AsyncIterator[UnitOfWork]:
    """One transaction on ``conn``. Domain errors are expected outcomes whose bookkeeping
    (a spent attempt, a failure event) must persist, so they commit; anything else rolls
    back."""
    await conn.begin()
    uow = SqlUnitOfWork(conn)
    try:
        yield uow
    except PhonegateError:
        await uow.flush()
        await conn.commit()
        raise
    except BaseException:
        await conn.rollback()
        raise
    await uow.flush()
    await conn.commit()


async def _close_quietly(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


def load_keyring(settings: Settings) -> KeyRing:
    raw = settings.secret_keys.get_secret_value()
    if raw:
        return KeyRing(parse_keys(raw))
    if settings.is_production:
        raise SystemExit("PHONEGATE_SECRET_KEYS must be set when PHONEGATE_ENV=production")
    return KeyRing(load_or_create_keyfile(settings.data_dir / "secret.key"))


class Container:
    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, engine: AsyncEngine | None = None
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.keys = load_keyring(settings)
        self.engine = engine or create_engine(settings.resolved_database_url)
        # SQLite has one writer and every transaction takes the write lock up front. Queue
        # this process's transactions on an asyncio lock (FIFO, no polling) instead of
        # letting SQLite's busy handler sleep-poll; other processes still meet busy_timeout.
        self._sqlite_gate: asyncio.Lock | None = (
            asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        )
        self._writer: AsyncConnection | None = None  # SQLite's, see _writing
        self.passwords = Argon2Passwords(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self.http = outbound_client(allow_private=settings.outbound_allow_private)
        self.registry = ProviderRegistry(
            SqlInbox(self.unit_of_work), production=settings.is_production, http=self.http
        )
        self.chain = ChainBuilder(self.registry, self.keys)
        self.metrics = Metrics(providers=self.registry.kinds() | BUILTIN_PROVIDERS.keys())
        self.deps = DomainDeps(
            keys=self.keys,
            clock=self.clock,
            catalog=self.registry,
            passwords=self.passwords,
            policy=Policy(
                code_ttl_seconds=settings.code_ttl_seconds,
                code_max_attempts=settings.code_max_attempts,
                mfa_token_ttl_seconds=settings.mfa_token_ttl_seconds,
            ),
            hosted=HostedChecks(self.chain),
            counters=self._shared_counters(settings),
            metrics=self.metrics,
        )
        self.dispatcher = Dispatcher(
            self.unit_of_work,
            self.registry,
            self.keys,
            self.clock,
            interval=settings.dispatch_interval_seconds,
            max_parallel=settings.dispatch_concurrency,
            callback_base=settings.public_url or None,
            metrics=self.metrics,
            reading=self.reading,
        )
        self.shipper = Shipper(self.unit_of_work, self.http, self.keys, self.clock)
        self._signing: dict[str, list[SigningKey]] = {}
        self._parsed: dict[str, SigningKey] = {}
        self._signing_lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []

    def _shared_counters(self, settings: Settings) -> Counters | None:
        """Redis counters when configured (several processes), else the database's."""
        self._redis: Any = None
        if not settings.redis_url:
            return None
        import redis.asyncio as redis

        self._redis = redis.from_url(settings.redis_url)
        return RedisCounters(self._redis)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """One transaction. Domain errors are expected outcomes whose bookkeeping (a spent
        attempt, a failure event) must persist, so they commit; anything else rolls back."""
        if self._sqlite_gate is None:
            async with self._transaction() as uow:
                yield uow
            return
        async with self._sqlite_gate, self._writing() as uow:
            yield uow

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """A transaction that only reads. On SQLite it neither queues on the writers' lock
        nor takes SQLite's write lock: WAL lets it read a consistent snapshot beside the
        writer. Writing in it is a bug (SQLite would refuse or stall the upgrade)."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY_OPTION: True})
            async with _transaction_on(conn) as uow:
                yield uow

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[UnitOfWork]:
        async with self.engine.connect() as conn, _transaction_on(conn) as uow:
            yield uow

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[UnitOfWork]:
        """A write transaction on SQLite, under the gate. The writers queue on the gate, so
        they can only ever use one connection: it is kept, not checked out of the pool and
        back for each transaction. After anything but a domain error (a rollback, perhaps
        one cut short) the next transaction starts on a fresh connection."""
        conn = self._writer
        if conn is None or conn.closed or conn.in_transaction():
            if conn is not None:
                await _close_quietly(conn)
            conn = self._writer = await self.engine.connect()
        try:
            async with _transaction_on(conn) as uow:
                yield uow
        except PhonegateError:
            raise  # committed: the connection is sound
        except BaseException:
            self._writer = None
            await _close_quietly(conn)
            raise

    async def signing_keys(
        self,
        tenant_id: str,
        uow: UnitOfWork | None = None,
        *,
        want_kid: str | None = None,
        refresh: bool = False,
    ) -> list[SigningKey]:
        """The tenant's RS256 keys, newest first; the first use creates one.

        Cached per process. A token naming a kid this process has not seen triggers a
        cheap look-up of the tenant's kids, and only a kid that exists (another process
        made it) is loaded; parsed keys are kept, so a flood of made-up kids costs one
        indexed query each, never a re-parse. Pass the open unit of work when inside one
        (SQLite has one writer, so a second transaction would wait on the first).
        """

        def usable(keys: list[SigningKey] | None) -> list[SigningKey] | None:
            wanted = want_kid is None or any(k.kid == want_kid for k in keys or ())
            return keys if keys and not refresh and wanted else None

        if found := usable(self._signing.get(tenant_id)):
            return found
        async with self._signing_lock:
            # Requests that queued on the lock behind the one that loaded the keys use them.
            cached = self._signing.get(tenant_id)
            if found := usable(cached):
                return found
            if uow is not None:
                keys = await self._refresh_keys(uow, tenant_id, cached, want_kid, refresh)
            else:
                async with self.unit_of_work() as own:
                    keys = await self._refresh_keys(own, tenant_id, cached, want_kid, refresh)
            self._signing[tenant_id] = keys
            return keys

    async def _refresh_keys(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        cached: list[SigningKey] | None,
        want_kid: str | None,
        refresh: bool,
    ) -> list[SigningKey]:
        made_up = (
            cached
            and not refresh
            and want_kid is not None
            and want_kid not in await uow.signing_keys.kids(tenant_id)
        )
        if cached and made_up:
            return cached  # verification will refuse the token
        rows = await uow.signing_keys.active(tenant_id)
        if not rows:
            key = generate_signing_key()
            sealed = export_private_key(key, self.keys)
            await uow.signing_keys.add(tenant_id, key.kid, sealed, self.clock.now())
            rows = [(key.kid, sealed)]
        keys = []
        for kid, sealed in rows:
            # After a server-key rotation, re-encrypt under the current key so the old key
            # can be dropped from PHONEGATE_SECRET_KEYS.
            rewrapped = self.keys.rewrap(sealed)
            if rewrapped is not None:
                await uow.signing_keys.rewrap(kid, rewrapped)
            if kid not in self._parsed:
                self._parsed[kid] = import_private_key(kid, sealed, self.keys)
            keys.append(self._parsed[kid])
        return keys

    async def start_background(self) -> None:
        """The background work of a process: delivery, log shipping and housekeeping."""
        if not self._background:
            self._stop.clear()
            self._background = [
                asyncio.create_task(self.dispatcher.run_forever(self._stop)),
                asyncio.create_task(self.shipper.run_forever(self._stop)),
                asyncio.create_task(self._housekeeping()),
            ]

    async def _housekeeping(self) -> None:
        """Hourly: purge log events past the retention period and rate-limit rows no request
        has touched for a week, and re-seal secrets an older server key sealed (safe in
        several processes: each step only deletes what is old or rewrites what is stale)."""
        while not self._stop.is_set():
            try:
                now = self.clock.now()
                await retention.purge(self.unit_of_work, now, self.settings.log_retention_days)
                await self.purge_delivery_records(now)
                await self.reseal_secrets()
            except Exception:
                logging.getLogger("phonegate").exception("log retention purge failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=HOUSEKEEPING_SECONDS)

    async def purge_delivery_records(self, now: datetime) -> None:
        """Old rate-limit rows, finished outbox messages (with their attempts) past the log
        retention, and the sandbox inbox after a day: it holds codes in clear."""
        kept = timedelta(days=self.settings.log_retention_days)
        async with self.unit_of_work() as uow:
            await uow.counters.purge_stale(now=now.timestamp(), idle_seconds=STALE_BUCKETS)
            await uow.inbox.purge_before(now - SANDBOX_INBOX_KEPT)
        while True:
            async with self.unit_of_work() as uow:
                if await uow.outbox.purge_finished_before(now - kept) < 1000:
                    break

    async def reseal_secrets(self) -> int:
        """After a server-key rotation, re-seal provider credentials, action and log-stream
        secrets and the demo credentials under the first key, so the old key can go."""
        async with self.unit_of_work() as uow:
            assert isinstance(uow, SqlUnitOfWork)
            return await reseal_all(uow.conn, self.keys.rewrap)

    async def aclose(self) -> None:
        self._stop.set()
        self.dispatcher.kick()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)
        self._background = []
        await self.http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        if self._writer is not None:
            await _close_quietly(self._writer)
            self._writer = None
        await self.engine.dispose()

    async def __aenter__(self) -> Container:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
