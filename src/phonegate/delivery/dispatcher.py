"""The outbox dispatcher: claim committed messages, send them along the tenant's delivery
chain, record every attempt and what happened.

It runs after the request's transaction has committed (kicked by the request, and on a
timer as a safety net), so a request never waits on a provider and a crash never loses a
message: a claim is a lease, and an unfinished claim becomes claimable again when it lapses.
A pass claims only as many messages as it sends at once, so no lease runs out on a message
still waiting its turn. Each attempt is written down before the provider is called, and a
success is recorded the moment the provider answers, in one transaction with the attempt, so
a restart re-sends only what is not known to have gone out: a send in flight when the
dispatcher died (outcome unknown) is sent again, and its attempt is marked ``interrupted``.
A code that has expired is never delivered.

Along the chain: a ``Retryable`` or ``Misconfigured`` answer moves on to the next provider at
once (an outage at one vendor must not lock users out); a ``Rejected`` one is final for the
message. When every provider failed retryably, the message waits with backoff and the next
pass starts again from the first provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, NamedTuple

from phonegate import ids
from phonegate.clock import Clock
from phonegate.delivery.chain import Built, ChainBuilder, send_through
from phonegate.delivery.delivery_events import admin_event, failure_event, sent_event
from phonegate.delivery.feedback import send_feedback
from phonegate.domain import delivery_plan
from phonegate.domain.delivery_plan import Step
from phonegate.domain.models import DeliveryAttempt, OutboxMessage, Tenant
from phonegate.domain.outbox import Payload, open_payload
from phonegate.domain.ports import UnitOfWork, UnitOfWorkFactory
from phonegate.keys import KeyRing
from phonegate.metrics import Metrics
from phonegate.providers.base import (
    FeedbackReporter,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
    SendResult,
)
from phonegate.providers.registry import CONTEXT_FREE_KINDS, ProviderRegistry

log = logging.getLogger("phonegate.delivery")

MAX_ATTEMPTS = 5
LEASE_SECONDS = 30.0
# A provider call never outlives the lease it runs under (renewed before each attempt), so
# no other dispatcher can claim the message while it is being sent.
SEND_BUDGET_SECONDS = LEASE_SECONDS - 5
# Providers whose delivery receipts web/callbacks.py accepts.
RECEIPT_PROVIDERS = frozenset({"twilio", "vonage", "infobip", "telesign"})
OUTCOMES: dict[type[ProviderError], str] = {
    Retryable: "retry",
    Rejected: "rejected",
    Misconfigured: "misconfigured",
}


class Started(NamedTuple):
    """A message ready to send: its payload, delivery chain, context and the id of the
    first attempt (None when the lease was lost)."""

    payload: Payload
    plan: delivery_plan.Plan
    metadata: dict[str, Any]
    first: str | None


def _settle(done: asyncio.Future[None], exc: Exception | None) -> None:
    if done.done():  # its waiter was cancelled
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


def _outcome(exc: ProviderError) -> str:
    return next((v for k, v in OUTCOMES.items() if isinstance(exc, k)), "rejected")


class Dispatcher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        registry: ProviderRegistry,
        keys: KeyRing,
        clock: Clock,
        *,
        interval: float = 2.0,
        max_parallel: int = 32,
        callback_base: str | None = None,
        metrics: Metrics | None = None,
        reading: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        self._reading = reading  # read-only transactions, for looks that usually find nothing
        self._registry = registry
        self._chain = ChainBuilder(registry, keys)
        self._keys = keys
        self._clock = clock
        self._interval = interval
        self._callback_base = callback_base.rstrip("/") if callback_base else None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._more = asyncio.Event()  # set when a pass is asked to go round again
        self._batch = max_parallel
        self._metrics = metrics
        self._token = ids.random_token(24)  # this dispatcher's lease token
        # Successful sends waiting to be recorded, and the task recording them.
        self._unrecorded: list[
            tuple[Callable[[UnitOfWork], Awaitable[None]], asyncio.Future[None]]
        ] = []
        self._recorder: asyncio.Task[None] | None = None

    def kick(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Send every message that is due now; returns how many this call handled.

        Up to ``max_parallel`` sends are in flight at once, and a free slot is filled as soon
        as any send ends — a slow provider holds up only its own messages. When a pass is
        already running, this only asks it to go round once more (it claims until nothing is
        due), so concurrent requests never queue behind each other.
        """
        if self._lock.locked():
            self._more.set()
            return 0
        async with self._lock:
            running: set[asyncio.Task[None]] = set()
            try:
                handled = await self._pass(running)
            finally:
                # Stopped (cancelled): the sends in flight stop with the pass, and their
                # lapsed leases hand the messages to the next dispatcher.
                for task in running:
                    task.cancel()
            await send_feedback(self._uow, self._chain, self._reading)
            return handled

    async def _pass(self, running: set[asyncio.Task[None]]) -> int:
        handled = 0
        claim = True
        while True:
            free = self._batch - len(running)
            claimed: list[tuple[OutboxMessage, Started | None]] = []
            if free > 0 and claim:
                self._more.clear()
                async with self._uow() as uow:
                    claimed = await self._claim(uow, free)
            running.update(asyncio.create_task(self._guarded(m, r)) for m, r in claimed)
            handled += len(claimed)
            if not running:
                if self._more.is_set():
                    claim = True
                    continue
                return handled
            # A claim that took fewer than it could found nothing more due, so the next one
            # waits for a send to end or, while a slot is free, for news of a new message:
            # a slow provider's sends must not hold up a message queued meanwhile.
            full = claim and len(claimed) == free
            waiting: set[asyncio.Future[Any]] = set(running)
            more = None
            if len(running) < self._batch:
                more = asyncio.ensure_future(self._more.wait())
                waiting.add(more)
            try:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if more is not None:
                    more.cancel()
            running.difference_update(done)
            # Claim again only when something may be due: the last claim was full, or a
            # request (or the timer) has queued news since. Anything else is an empty
            # write transaction, which on SQLite waits its turn like every other.
            claim = full or self._more.is_set()

    async def _claim(
        self, uow: UnitOfWork, limit: int
    ) -> list[tuple[OutboxMessage, Started | None]]:
        """Claim what is due and, in the same transaction, begin each fresh message's first
        attempt (its lease was taken a moment ago, so it needs no renewal): the context is
        read once per tenant and channel of the batch, not once per message."""
        messages = await uow.outbox.claim_due(self._clock.now(), LEASE_SECONDS, limit, self._token)
        plans: dict[tuple[str, str], tuple[Tenant | None, delivery_plan.Plan]] = {}
        claimed: list[tuple[OutboxMessage, Started | None]] = []
        for message in messages:
            payload = open_payload(self._keys, message.payload)
            if message.attempts > 1 or payload is None or self._clock.now() >= message.expires_at:
                claimed.append((message, None))  # the careful path, in its own task
                continue
            key = (message.tenant_id, message.channel)
            try:
                if key not in plans:
                    plans[key] = await self._plan(uow, message)
                tenant, plan = plans[key]
                ready: Started | None = await self._start(uow, message, payload, tenant, plan)
            except Exception:
                # One tenant's broken configuration must not hold up the batch: its message
                # takes the careful path, which logs the failure and lets the lease lapse.
                ready = None
            claimed.append((message, ready))
        return claimed

    async def _plan(
        self, uow: UnitOfWork, message: OutboxMessage
    ) -> tuple[Tenant | None, delivery_plan.Plan]:
        tenant = await uow.tenants.get(message.tenant_id)
        if tenant is None:
            return None, delivery_plan.Plan((), problem="the tenant no longer exists")
        return tenant, await delivery_plan.plan(uow, self._registry, tenant, message.channel)

    async def _start(
        self,
        uow: UnitOfWork,
        message: OutboxMessage,
        payload: Payload,
        tenant: Tenant | None,
        plan: delivery_plan.Plan,
        *,
        renew: bool = False,
    ) -> Started:
        """The message's context, and its first attempt recorded (``first`` is None when
        another dispatcher holds the message now)."""
        wants_context = any(step.kind not in CONTEXT_FREE_KINDS for step in plan.steps)
        metadata = (
            await self._metadata(uow, tenant, message, payload) if tenant and wants_context else {}
        )
        first = None
        if plan.steps:
            first = await self._record_begin(uow, message, plan.steps[0], 0, renew=renew)
        return Started(payload, plan, metadata, first)

    async def _guarded(self, message: OutboxMessage, ready: Started | None) -> None:
        try:
            await self._deliver(message, ready)
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

    # -- one message -----------------------------------------------------------------------

    async def _deliver(self, message: OutboxMessage, ready: Started | None = None) -> None:
        if ready is None:
            ready = await self._start_alone(message)
            if ready is None:
                return
        payload, plan, metadata, first = ready
        if plan.steps and first is None:
            log.warning("message %s was taken over by another dispatcher", message.id)
            return
        if not plan.steps:
            await self._misconfigured(message, plan.primary, plan.problem or "no provider")
            return
        outgoing = self._outgoing(message, payload, metadata)
        retryable: Retryable | None = None
        last: ProviderError | None = None
        for position, step in enumerate(plan.steps):
            if position == 0:
                attempt = first
            elif self._clock.now() >= message.expires_at:
                await self._fail(
                    message, None, "the code expired before it could be delivered", "expired"
                )
                return
            else:
                attempt = await self._begin(message, step, position)
            if attempt is None:
                log.warning("message %s was taken over by another dispatcher", message.id)
                return
            started = time.perf_counter()
            try:
                built = self._chain.build(step)
                async with asyncio.timeout(SEND_BUDGET_SECONDS):
                    result = await send_through(
                        built, replace(outgoing, callback_url=self._callback(built.name))
                    )
            except ProviderError as exc:
                error: ProviderError = exc
            except TimeoutError:
                error = Retryable(
                    f"{step.label} did not answer within {SEND_BUDGET_SECONDS:g} s", code="timeout"
                )
            except Exception as exc:
                # An unknown failure counts as transient; the type is logged, never the payload.
                log.exception("provider %s raised unexpectedly", step.label)
                error = Retryable(f"unexpected {type(exc).__name__}")
            else:
                self._observe(step, message, "sent", started)
                await self._sent(message, attempt, built, result, position, step)
                return
            self._observe(step, message, _outcome(error), started)
            # A rejection is final for the message: no other provider is tried.
            failover = position + 1 < len(plan.steps) and not isinstance(error, Rejected)
            await self._attempt_failed(message, attempt, step, error, failover=failover)
            if isinstance(error, Rejected):
                await self._fail(message, step.label, error.message, "failed", error.code)
                return
            if isinstance(error, Retryable):
                retryable = error
            last = error
        label = plan.steps[-1].label
        if retryable is not None:
            await self._retry(message, label, retryable)
        else:
            assert last is not None
            await self._fail(message, label, last.message, "failed", last.code)

    async def _start_alone(self, message: OutboxMessage) -> Started | None:
        """A message claimed before (a lapsed lease, or a retry), expired or unreadable: the
        checks first, then its context and first attempt in a transaction of their own."""
        if message.attempts > 1:  # claimed before: a lapsed lease, or a retry
            await self._close_interrupted(message)
        if self._clock.now() >= message.expires_at:
            await self._fail(
                message, None, "the code expired before it could be delivered", "expired"
            )
            return None
        payload = open_payload(self._keys, message.payload)
        if payload is None:
            await self._fail(
                message, None, "the message cannot be decrypted with the server keys", "failed"
            )
            return None
        async with self._uow() as uow:
            tenant, plan = await self._plan(uow, message)
            return await self._start(uow, message, payload, tenant, plan, renew=True)

    def _observe(self, step: Step, message: OutboxMessage, outcome: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.observe_provider(
                step.kind, message.channel, outcome, time.perf_counter() - started
            )

    def _count(self, message: OutboxMessage, provider: str | None, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.record_message(provider, message.channel, message.recipient, outcome)

    def _callback(self, provider: str) -> str | None:
        # Receipts need an address the vendor can reach: only with PHONEGATE_PUBLIC_URL.
        if self._callback_base is None or provider not in RECEIPT_PROVIDERS:
            return None
        return f"{self._callback_base}/callbacks/{provider}/status"

    def _outgoing(
        self, message: OutboxMessage, payload: Payload, metadata: dict[str, Any]
    ) -> OutgoingMessage:
        remaining = int((message.expires_at - self._clock.now()).total_seconds())
        return OutgoingMessage(
            tenant_id=message.tenant_id,
            recipient=message.recipient,
            channel=message.channel,
            text=payload.text,
            code=payload.code,
            locale=payload.locale,
            message_id=message.id,
            kind=payload.kind,  # type: ignore[arg-type]
            callback_url=None,  # set per provider in _callback
            sender=payload.sender,
            valid_for_seconds=max(1, remaining),
            metadata=metadata,
        )

    async def _metadata(
        self, uow: UnitOfWork, tenant: Tenant, message: OutboxMessage, payload: Payload
    ) -> dict[str, Any]:
        """What operator code and webhooks receive about the message's context."""
        app = (
            await uow.applications.get(tenant.id, message.client_id) if message.client_id else None
        )
        user = await uow.users.get(tenant.id, message.user_id) if message.user_id else None
        data: dict[str, Any] = {
            "tenant": {"id": tenant.id, "friendly_name": tenant.settings.friendly_name},
            "request": {
                "ip": message.ip,
                "user_agent": message.user_agent,
                "language": payload.locale,
            },
            "client": (
                {"client_id": app.client_id, "name": app.name, "metadata": dict(app.metadata)}
                if app
                else {}
            ),
            "user": (
                {
                    "user_id": user.user_id,
                    "email": user.email,
                    "email_verified": user.email_verified,
                    "name": user.name,
                    "nickname": user.nickname,
                    "user_metadata": user.user_metadata,
                    "app_metadata": user.app_metadata,
                }
                if user
                else {}
            ),
        }
        if payload.sender:
            data["from"] = payload.sender
        return data

    # -- bookkeeping -----------------------------------------------------------------------

    async def _begin(self, message: OutboxMessage, step: Step, position: int) -> str | None:
        async with self._uow() as uow:
            return await self._record_begin(uow, message, step, position, renew=True)

    async def _record_begin(
        self,
        uow: UnitOfWork,
        message: OutboxMessage,
        step: Step,
        position: int,
        *,
        renew: bool,
    ) -> str | None:
        """Renew the lease (unless it was taken in this transaction) and record the
        attempt; None when another dispatcher holds the message now (this one's lease
        lapsed), which must then not send it."""
        now = self._clock.now()
        attempt = DeliveryAttempt(
            id=ids.prefixed("att"),
            tenant_id=message.tenant_id,
            message_id=message.id,
            provider=step.label,
            position=position,
            started_at=now,
        )
        if renew and not await uow.outbox.renew(
            message.id, self._token, now + timedelta(seconds=LEASE_SECONDS)
        ):
            return None
        await uow.delivery_attempts.add(attempt)
        return attempt.id

    async def _close_interrupted(self, message: OutboxMessage) -> None:
        """Attempts a stopped dispatcher began and never finished: the vendor may or may not
        have sent those, so the message goes out again, and the attempt says why."""
        async with self._uow() as uow:
            for attempt in await uow.delivery_attempts.for_message(message.id):
                if attempt.finished_at is None:
                    await uow.delivery_attempts.finish(
                        attempt.id,
                        outcome="interrupted",
                        now=self._clock.now(),
                        error="the dispatcher stopped before the provider answered; the "
                        "message may have been sent",
                    )

    async def _sent(
        self,
        message: OutboxMessage,
        attempt_id: str,
        built: Built,
        result: SendResult,
        position: int,
        step: Step,
    ) -> None:
        now = self._clock.now()
        wants_feedback = isinstance(built.provider, FeedbackReporter)

        async def record(uow: UnitOfWork) -> None:
            await uow.outbox.mark_sent(
                message.id,
                result.provider,
                result.provider_message_id,
                now,
                wants_feedback=wants_feedback,
                provider_config_id=built.config_id,
            )
            await uow.delivery_attempts.finish(
                attempt_id,
                outcome="sent",
                now=now,
                provider_message_id=result.provider_message_id,
            )
            await uow.events.add(sent_event(message, result.provider, step.label, position, now))

        # The first thing done once the provider has answered: a message is known as sent
        # exactly when its successful attempt is recorded.
        await self._record_together(record)
        self._count(message, step.kind, "sent")

    async def _record_together(self, write: Callable[[UnitOfWork], Awaitable[None]]) -> None:
        """Run ``write`` in the next shared transaction. Sends that end together (a slow
        provider's batch answering at once) are recorded in one transaction instead of one
        each, every one queueing for SQLite's writer in front of the requests. Should the
        shared transaction fail, each write is tried in a transaction of its own, so one
        bad record does not have the others' messages sent twice."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unrecorded.append((write, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_pending())
        await done

    async def _record_pending(self) -> None:
        batch: list[tuple[Callable[[UnitOfWork], Awaitable[None]], asyncio.Future[None]]] = []
        try:
            while self._unrecorded:
                batch, self._unrecorded = self._unrecorded, []
                try:
                    async with self._uow() as uow:
                        for write, _ in batch:
                            await write(uow)
                except Exception:
                    for write, done in batch:
                        try:
                            async with self._uow() as uow:
                                await write(uow)
                        except Exception as exc:
                            _settle(done, exc)
                        else:
                            _settle(done, None)
                else:
                    for _, done in batch:
                        _settle(done, None)
        finally:
            # Stopped half-way (the dispatcher shuts down): nobody waits in vain, and the
            # unrecorded messages' leases lapse, so they are sent again.
            for _, done in batch + self._unrecorded:
                done.cancel()
            self._unrecorded = []

    async def _attempt_failed(
        self,
        message: OutboxMessage,
        attempt_id: str,
        step: Step,
        exc: ProviderError,
        *,
        failover: bool,
    ) -> None:
        """Every failed attempt is recorded; one that hands over to the next provider is an
        event too (the final outcome is logged by _fail/_retry), and a configuration an
        operator must fix is an admin event whatever happens next."""
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.delivery_attempts.finish(
                attempt_id, outcome=_outcome(exc), now=now, error_code=exc.code, error=exc.message
            )
            if failover:
                await uow.events.add(
                    failure_event(message, step.label, exc.message, exc.code, now, failover=True)
                )
            if isinstance(exc, Misconfigured):
                await uow.events.add(admin_event(message, step.label, exc.message, now))

    async def _retry(self, message: OutboxMessage, provider: str, exc: Retryable) -> None:
        delay = exc.retry_after if exc.retry_after is not None else min(2**message.attempts, 60)
        next_try = self._clock.now() + timedelta(seconds=delay)
        if message.attempts >= MAX_ATTEMPTS or next_try >= message.expires_at:
            await self._fail(message, provider, exc.message, "failed", exc.code)
            return
        async with self._uow() as uow:
            await uow.outbox.reschedule(message.id, next_try, exc.message)
        self._count(message, provider, "retried")

    async def _misconfigured(
        self, message: OutboxMessage, provider: str | None, reason: str
    ) -> None:
        async with self._uow() as uow:
            await uow.events.add(admin_event(message, provider, reason, self._clock.now()))
        await self._fail(message, provider, reason, "failed", "misconfigured")

    async def _fail(
        self,
        message: OutboxMessage,
        provider: str | None,
        reason: str,
        status: str,
        code: str | None = None,
    ) -> None:
        async with self._uow() as uow:
            await uow.outbox.mark_failed(message.id, provider, reason, status)
            await uow.events.add(failure_event(message, provider, reason, code, self._clock.now()))
        self._count(message, provider, "expired" if status == "expired" else "failed")
        log.warning("message %s not delivered (%s): %s", message.id, provider, reason)
