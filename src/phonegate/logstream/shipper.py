"""The log stream shipper: delivers each active stream's events, in log_id order, to its
sink, at least once.

Each pass claims the streams whose turn it is with a lease (a guarded UPDATE, as outbox
claims, so two processes never ship one stream at once), reads the events after each
stream's cursor (same tenant, matching its filters), sends them in batches and moves the
cursor only after a 2xx. A receiver that was down therefore gets everything it missed, in
order, when it is back; the batch that failed is sent again with the same batch id.

Events younger than ``settle_seconds`` wait for a later pass: a transaction that wrote an
event a moment ago may commit after one that wrote a later event, and the cursor must not
move past an event that is not visible yet.

A failed batch backs off exponentially (capped); after ``max_failures`` consecutive failures
the stream is ``suspended`` and a ``pg_log_stream_suspended`` event says so, until the
operator resumes it (PATCH status "active"). After each pass the spike alerts are checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from phonegate.clock import Clock
from phonegate.domain.events import new_event
from phonegate.domain.log_streams import event_types, open_secrets, retry_delay
from phonegate.domain.models import LogEvent, LogStream
from phonegate.domain.phone_providers import SealedUnreadable
from phonegate.domain.ports import UnitOfWorkFactory
from phonegate.keys import KeyRing
from phonegate.logstream.alerts import SpikeAlerts
from phonegate.logstream.sinks import HttpSink
from phonegate.providers.base import Misconfigured, ProviderError, Retryable

log = logging.getLogger("phonegate.logstream")

LEASE_SECONDS = 60.0  # longer than a send's timeout plus its bookkeeping
MAX_BATCHES_PER_TURN = 10  # then the other streams get their turn


class Shipper:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        http: httpx.AsyncClient,
        keys: KeyRing,
        clock: Clock,
        *,
        interval: float = 2.0,
        timeout_seconds: float = 10.0,
        max_failures: int = 10,
        settle_seconds: float = 5.0,
        claim_limit: int = 50,
    ) -> None:
        self._uow = uow
        self._http = http
        self._keys = keys
        self._clock = clock
        self._interval = interval
        self._timeout = timeout_seconds
        self._max_failures = max_failures
        self._settle = timedelta(seconds=settle_seconds)
        self._claim_limit = claim_limit
        self.alerts = SpikeAlerts(uow, clock)

    async def run_once(self) -> int:
        """One pass over every stream whose turn it is, then the spike alerts; returns how
        many events were delivered."""
        delivered, after = 0, ""
        while True:
            async with self._uow() as uow:
                streams = await uow.log_streams.claim_due(
                    self._clock.now(), LEASE_SECONDS, self._claim_limit, after
                )
            if not streams:
                break
            delivered += sum(await asyncio.gather(*(self._guarded(s) for s in streams)))
            after = streams[-1].id
        await self.alerts.run_once()
        return delivered

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # a broken database must not kill the loop; retry next tick
                log.exception("log stream pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

    async def _guarded(self, stream: LogStream) -> int:
        try:
            return await self._ship(stream)
        except Exception:
            # Bookkeeping failed: the lease lapses and the stream is claimed again.
            log.exception("log stream %s could not be shipped", stream.id)
            return 0

    async def _ship(self, stream: LogStream) -> int:
        assert stream.claimed_until is not None  # claimed streams carry their lease
        lease, cursor, failures = stream.claimed_until, stream.cursor, stream.failures
        try:
            secrets = open_secrets(self._keys, stream)
        except SealedUnreadable:
            # Never sign with a blank secret: the stream fails, visibly, until it is fixed.
            await self._failed(
                stream,
                lease,
                failures + 1,
                Misconfigured(
                    "the stream's secrets cannot be decrypted with the server keys: rotate "
                    "its signing secret and set its authorization again"
                ),
            )
            return 0
        sink = HttpSink(self._http, stream, secrets, timeout_seconds=self._timeout)
        types = event_types(stream.filters)
        delivered = 0
        for turn in range(MAX_BATCHES_PER_TURN):
            async with self._uow() as uow:
                found = await uow.log_streams.events_after(
                    stream.tenant_id, cursor, types, sink.batch_size
                )
            events = self._settled(found)
            if not events:
                break
            try:
                await sink.send(events)
            except ProviderError as exc:
                await self._failed(stream, lease, failures + 1, exc)
                return delivered
            delivered += len(events)
            more = len(events) == sink.batch_size and turn + 1 < MAX_BATCHES_PER_TURN
            renew = self._clock.now() + timedelta(seconds=LEASE_SECONDS) if more else None
            async with self._uow() as uow:
                held = await uow.log_streams.try_advance(stream.id, lease, events[-1].log_id, renew)
            if not held or renew is None:
                return delivered
            lease, cursor, failures = renew, events[-1].log_id, 0
        async with self._uow() as uow:
            await uow.log_streams.release(stream.id, lease)
        return delivered

    def _settled(self, events: Sequence[LogEvent]) -> list[LogEvent]:
        """The events up to the first one still settling (younger than settle_seconds)."""
        cutoff = self._clock.now() - self._settle
        settled: list[LogEvent] = []
        for event in events:
            if event.date > cutoff:
                break
            settled.append(event)
        return settled

    async def _failed(
        self, stream: LogStream, lease: datetime, failures: int, exc: ProviderError
    ) -> None:
        now = self._clock.now()
        retry_after = exc.retry_after if isinstance(exc, Retryable) else None
        suspend = failures >= self._max_failures
        async with self._uow() as uow:
            held = await uow.log_streams.try_record_failure(
                stream.id,
                lease,
                failures=failures,
                error=exc.message,
                next_attempt_at=now + timedelta(seconds=retry_delay(failures, retry_after)),
                suspend=suspend,
            )
            if held and suspend:
                await uow.events.add(
                    new_event(
                        stream.tenant_id,
                        "pg_log_stream_suspended",
                        now,
                        description=(
                            f"Log stream {stream.name!r} was suspended after {failures} "
                            f"failed deliveries in a row: {exc.message}"
                        ),
                        details={
                            "stream_id": stream.id,
                            "name": stream.name,
                            "failures": failures,
                            "error": exc.message,
                        },
                    )
                )
        log.warning("log stream %s: batch not delivered: %s", stream.id, exc.message)
