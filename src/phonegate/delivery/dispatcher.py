"""The outbox dispatcher: claim committed messages, send them, record what happened.

It runs after the request's transaction has committed (kicked by the request, and on a
timer as a safety net), so a request never waits on a provider and a crash never loses a
message: a claim is a lease, and an unfinished claim becomes claimable again when it lapses.
A code that has expired is never delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from phonegate.clock import Clock
from phonegate.domain.events import new_event
from phonegate.domain.models import OutboxMessage, RequestContext
from phonegate.domain.outbox import open_payload
from phonegate.domain.ports import UnitOfWork
from phonegate.keys import KeyRing
from phonegate.phone import mask
from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
    SendResult,
)
from phonegate.providers.registry import ProviderRegistry

log = logging.getLogger("phonegate.delivery")

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
MAX_ATTEMPTS = 5
LEASE_SECONDS = 30.0


class Dispatcher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        registry: ProviderRegistry,
        keys: KeyRing,
        clock: Clock,
        *,
        interval: float = 2.0,
        max_parallel: int = 8,
    ) -> None:
        self._uow = uow
        self._registry = registry
        self._keys = keys
        self._clock = clock
        self._interval = interval
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._again = False
        self._sending = asyncio.Semaphore(max_parallel)

    def kick(self) -> None:
        self._wake.set()

    async def run_once(self, limit: int = 50) -> int:
        """Send every message that is due now; returns how many this call handled.

        When a pass is already running, this only asks it to go round once more (it claims
        until nothing is due), so concurrent requests never queue behind each other.
        """
        if self._lock.locked():
            self._again = True
            return 0
        async with self._lock:
            handled = 0
            while True:
                self._again = False
                async with self._uow() as uow:
                    batch = await uow.outbox.claim_due(self._clock.now(), LEASE_SECONDS, limit)
                if not batch:
                    if self._again:
                        continue
                    return handled
                await asyncio.gather(*(self._deliver_guarded(m) for m in batch))
                handled += len(batch)

    async def _deliver_guarded(self, message: OutboxMessage) -> None:
        async with self._sending:
            try:
                await self._deliver(message)
            except Exception:
                # Bookkeeping failed (database down?): the lease lapses and the message is
                # claimed again, so it is not lost.
                log.exception("delivery of %s could not be recorded", message.id)

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # a broken database must not kill the loop; retry next tick
                log.exception("outbox dispatch pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)

    async def _deliver(self, message: OutboxMessage) -> None:
        now = self._clock.now()
        if now >= message.expires_at:
            await self._fail(
                message, None, "the code expired before it could be delivered", "expired"
            )
            return
        payload = open_payload(self._keys, message.payload)
        if payload is None:
            await self._fail(
                message, None, "the message cannot be decrypted with the server keys", "failed"
            )
            return
        async with self._uow() as uow:
            tenant = await uow.tenants.get(message.tenant_id)
        provider_name = tenant.settings.selected_provider if tenant else "unknown"
        provider = self._registry.get(provider_name)
        outgoing = OutgoingMessage(
            tenant_id=message.tenant_id,
            recipient=message.recipient,
            channel=message.channel,
            text=payload.text,
            code=payload.code,
            locale=payload.locale,
            message_id=message.id,
            kind=payload.kind,  # type: ignore[arg-type]
        )
        try:
            if provider is None:
                raise Misconfigured(f"the delivery provider {provider_name!r} is not available")
            result: SendResult = await (
                provider.place_call(outgoing)
                if message.channel == "voice"
                else provider.send_sms(outgoing)
            )
        except Retryable as exc:
            await self._retry(message, provider_name, exc)
        except (Rejected, Misconfigured) as exc:
            await self._fail(message, provider_name, exc.message, "failed", exc.code)
        except ProviderError as exc:
            await self._fail(message, provider_name, exc.message, "failed", exc.code)
        except Exception as exc:
            # Unknown failures are treated as transient; the type is logged, never the payload.
            log.exception("provider %s raised unexpectedly", provider_name)
            await self._retry(message, provider_name, Retryable(f"unexpected {type(exc).__name__}"))
        else:
            await self._sent(message, result)

    async def _sent(self, message: OutboxMessage, result: SendResult) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.outbox.mark_sent(message.id, result.provider, result.provider_message_id, now)
            await uow.events.add(
                new_event(
                    message.tenant_id,
                    f"gd_send_{message.channel}",
                    now,
                    self._ctx(message),
                    client_id=message.client_id,
                    user_id=message.user_id,
                    details={
                        "provider": result.provider,
                        "to": mask(message.recipient),
                        "message_id": message.id,
                    },
                )
            )

    async def _retry(self, message: OutboxMessage, provider: str, exc: Retryable) -> None:
        delay = exc.retry_after if exc.retry_after is not None else min(2**message.attempts, 60)
        next_try = self._clock.now() + timedelta(seconds=delay)
        if message.attempts >= MAX_ATTEMPTS or next_try >= message.expires_at:
            await self._fail(message, provider, exc.message, "failed", exc.code)
            return
        async with self._uow() as uow:
            await uow.outbox.reschedule(message.id, next_try, exc.message)

    async def _fail(
        self,
        message: OutboxMessage,
        provider: str | None,
        reason: str,
        status: str,
        code: str | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.outbox.mark_failed(message.id, provider, reason, status)
            await uow.events.add(
                new_event(
                    message.tenant_id,
                    f"gd_send_{message.channel}_failure",
                    now,
                    self._ctx(message),
                    description=f"The {message.channel} message could not be sent: {reason}",
                    client_id=message.client_id,
                    user_id=message.user_id,
                    details={
                        "provider": provider,
                        "to": mask(message.recipient),
                        "message_id": message.id,
                        "failure_details": {
                            "errorCode": code or "error_sending_sms",
                            "message": reason,
                        },
                    },
                )
            )
        log.warning("message %s not delivered (%s): %s", message.id, provider, reason)

    @staticmethod
    def _ctx(message: OutboxMessage) -> RequestContext:
        return RequestContext(ip=message.ip, user_agent=message.user_agent)
