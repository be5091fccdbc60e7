"""Repositories on SQLite and PostgreSQL: guarded writes, concurrency, leases, cascades."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate import ids
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.delivery.dispatcher import LEASE_SECONDS
from phonegate.domain.models import (
    Challenge,
    OutboxMessage,
    PhoneAuthenticator,
    RecoveryCode,
    RequestContext,
    Tenant,
    User,
)
from phonegate.domain.outbox import Payload, new_message
from phonegate.domain.ports import UnitOfWork
from phonegate.domain.tenants import new_tenant
from phonegate.storage import tables as t
from phonegate.storage.repositories import SqlUnitOfWork


def sql(uow: UnitOfWork) -> AsyncConnection:
    """The unit of work's connection, for checks the repositories do not offer."""
    assert isinstance(uow, SqlUnitOfWork)
    return uow.conn


async def add_tenant(
    container: Container, name: str = "acme", *, domain: str | None = None, default: bool = False
) -> Tenant:
    tenant = new_tenant(name, container.clock.now(), domain=domain, default=default)
    async with container.unit_of_work() as uow:
        await uow.tenants.add(tenant)
    return tenant


async def add_user(container: Container, tenant: Tenant, email: str = "a@example.com") -> User:
    now = container.clock.now()
    user = User(
        tenant_id=tenant.id,
        user_id=ids.user_id(),
        email=email,
        password_hash="not-a-real-hash",
        email_verified=True,
        name=email,
        nickname=email.split("@")[0],
        blocked=False,
        user_metadata={},
        app_metadata={},
        created_at=now,
        updated_at=now,
    )
    async with container.unit_of_work() as uow:
        await uow.users.add(user)
    return user


def make_challenge(
    container: Container, user: User, *, ttl: float = 300, max_attempts: int = 5
) -> Challenge:
    now = container.clock.now()
    return Challenge(
        id=ids.prefixed("ch"),
        tenant_id=user.tenant_id,
        user_id=user.user_id,
        client_id="client-1",
        authenticator_id="dev_x",
        kind="authentication",
        channel="sms",
        code_hash="h",
        key_id="k",
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        attempts=0,
        max_attempts=max_attempts,
        consumed_at=None,
    )


async def add_challenge(
    container: Container, user: User, *, ttl: float = 300, max_attempts: int = 5
) -> Challenge:
    challenge = make_challenge(container, user, ttl=ttl, max_attempts=max_attempts)
    async with container.unit_of_work() as uow:
        await uow.challenges.add(challenge, ids.random_token(40))
    return challenge


async def seeded(container: Container) -> tuple[Tenant, User]:
    tenant = await add_tenant(container, default=True)
    return tenant, await add_user(container, tenant)


async def test_try_count_attempt_stops_at_max_attempts(container: Container) -> None:
    _, user = await seeded(container)
    challenge = await add_challenge(container, user, max_attempts=3)
    now = container.clock.now()
    results = []
    for _ in range(5):
        async with container.unit_of_work() as uow:
            results.append(await uow.challenges.try_count_attempt(challenge.id, now))
    assert results == [True, True, True, False, False]
    async with container.unit_of_work() as uow:
        stored = await uow.challenges.get(challenge.tenant_id, challenge.id)
    assert stored is not None and stored.attempts == 3


async def test_try_count_attempt_refuses_after_expiry(
    container: Container, clock: FrozenClock
) -> None:
    _, user = await seeded(container)
    challenge = await add_challenge(container, user, ttl=60)
    async with container.unit_of_work() as uow:
        assert await uow.challenges.try_count_attempt(challenge.id, clock.now())
        assert await uow.challenges.try_count_attempt(
            challenge.id, clock.now() + timedelta(seconds=59)
        )
        assert not await uow.challenges.try_count_attempt(
            challenge.id, clock.now() + timedelta(seconds=60)
        )
        assert not await uow.challenges.try_count_attempt(
            challenge.id, clock.now() + timedelta(hours=1)
        )
        stored = await uow.challenges.get(challenge.tenant_id, challenge.id)
    assert stored is not None and stored.attempts == 2


async def test_try_count_attempt_refuses_a_consumed_challenge(container: Container) -> None:
    _, user = await seeded(container)
    challenge = await add_challenge(container, user)
    now = container.clock.now()
    async with container.unit_of_work() as uow:
        assert await uow.challenges.try_consume(challenge.id, now)
        assert not await uow.challenges.try_count_attempt(challenge.id, now)


async def test_try_consume_wins_once(container: Container, clock: FrozenClock) -> None:
    _, user = await seeded(container)
    challenge = await add_challenge(container, user)
    async with container.unit_of_work() as uow:
        assert await uow.challenges.try_consume(challenge.id, clock.now())
    async with container.unit_of_work() as uow:
        assert not await uow.challenges.try_consume(
            challenge.id, clock.now() + timedelta(seconds=1)
        )
        stored = await uow.challenges.get(challenge.tenant_id, challenge.id)
    assert stored is not None and stored.consumed_at == clock.now()


async def test_concurrent_try_consume_has_exactly_one_winner(container: Container) -> None:
    _, user = await seeded(container)
    challenge = await add_challenge(container, user)
    now = container.clock.now()

    async def attempt() -> bool:
        async with container.unit_of_work() as uow:
            won = await uow.challenges.try_consume(challenge.id, now)
            await asyncio.sleep(0)  # hold the transaction open while others run
            return won

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    assert results.count(True) == 1, results


async def test_concurrent_attempts_never_exceed_max_attempts(container: Container) -> None:
    _, user = await seeded(container)
    challenge = await add_challenge(container, user, max_attempts=5)
    now = container.clock.now()

    async def attempt() -> bool:
        async with container.unit_of_work() as uow:
            counted = await uow.challenges.try_count_attempt(challenge.id, now)
            await asyncio.sleep(0)
            return counted

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    assert results.count(True) == 5, results
    async with container.unit_of_work() as uow:
        stored = await uow.challenges.get(challenge.tenant_id, challenge.id)
    assert stored is not None and stored.attempts == 5


async def test_evaluation_cap(container: Container) -> None:
    tenant = await add_tenant(container)
    allowed = []
    for _ in range(5):
        async with container.unit_of_work() as uow:
            allowed.append(await uow.tenants.try_count_evaluation_message(tenant.id, 3))
    assert allowed == [True, True, True, False, False]


async def test_evaluation_cap_holds_under_concurrency(container: Container) -> None:
    tenant = await add_tenant(container)
    other = await add_tenant(container, "globex")

    async def count() -> bool:
        async with container.unit_of_work() as uow:
            ok = await uow.tenants.try_count_evaluation_message(tenant.id, 3)
            await asyncio.sleep(0)
            return ok

    results = await asyncio.gather(*(count() for _ in range(10)))
    assert results.count(True) == 3, results
    async with container.unit_of_work() as uow:
        rows = dict(
            (
                await sql(uow).execute(
                    sa.select(
                        t.tenant_settings.c.tenant_id, t.tenant_settings.c.evaluation_messages_sent
                    )
                )
            ).all()
        )
    assert rows == {tenant.id: 3, other.id: 0}


def outbox_message(container: Container, tenant: Tenant, n: int) -> OutboxMessage:
    now = container.clock.now()
    return new_message(
        container.keys,
        tenant_id=tenant.id,
        channel="sms",
        recipient=f"+1415555{n:04d}",
        payload=Payload(text=f"code {n}", code=f"{n:06d}", locale="en", kind="verification"),
        now=now,
        expires_at=now + timedelta(minutes=5),
        challenge_id=None,
        user_id=None,
        client_id=None,
        ctx=RequestContext(),
    )


async def add_outbox(container: Container, tenant: Tenant, count: int) -> set[str]:
    messages = [outbox_message(container, tenant, n) for n in range(count)]
    async with container.unit_of_work() as uow:
        for message in messages:
            await uow.outbox.add(message)
    return {m.id for m in messages}


async def test_claim_due_never_hands_a_message_to_two_claimers(container: Container) -> None:
    tenant = await add_tenant(container)
    ids_ = await add_outbox(container, tenant, 12)
    now = container.clock.now()

    async def claim() -> list[str]:
        async with container.unit_of_work() as uow:
            claimed = await uow.outbox.claim_due(now, LEASE_SECONDS, 50)
            await asyncio.sleep(0)
            return [m.id for m in claimed]

    batches = await asyncio.gather(*(claim() for _ in range(6)))
    everything = [message_id for batch in batches for message_id in batch]
    assert len(everything) == len(set(everything)), batches
    assert set(everything) == ids_
    async with container.unit_of_work() as uow:
        assert await uow.outbox.claim_due(now, LEASE_SECONDS, 50) == []
        statuses = (await sql(uow).execute(sa.select(t.outbox_messages.c.status))).scalars().all()
    assert set(statuses) == {"sending"}


async def test_claim_due_respects_limit_and_not_before(
    container: Container, clock: FrozenClock
) -> None:
    tenant = await add_tenant(container)
    await add_outbox(container, tenant, 3)
    async with container.unit_of_work() as uow:
        # Messages are due from one second before their creation.
        assert await uow.outbox.claim_due(clock.now() - timedelta(seconds=5), 30, 50) == []
        first = await uow.outbox.claim_due(clock.now(), 30, 2)
        second = await uow.outbox.claim_due(clock.now(), 30, 2)
    assert len(first) == 2 and len(second) == 1
    assert {m.status for m in first + second} == {"sending"}


async def test_lapsed_claim_is_claimable_again(container: Container, clock: FrozenClock) -> None:
    tenant = await add_tenant(container)
    (message_id,) = await add_outbox(container, tenant, 1)
    async with container.unit_of_work() as uow:
        (claimed,) = await uow.outbox.claim_due(clock.now(), LEASE_SECONDS, 10)
    assert claimed.id == message_id and claimed.attempts == 1
    clock.advance(LEASE_SECONDS - 1)
    async with container.unit_of_work() as uow:
        assert await uow.outbox.claim_due(clock.now(), LEASE_SECONDS, 10) == []
    clock.advance(2)
    async with container.unit_of_work() as uow:
        (again,) = await uow.outbox.claim_due(clock.now(), LEASE_SECONDS, 10)
    assert again.id == message_id and again.attempts == 2
    async with container.unit_of_work() as uow:
        assert await uow.outbox.claim_due(clock.now(), LEASE_SECONDS, 10) == []


async def test_sent_message_is_not_claimed_again(container: Container, clock: FrozenClock) -> None:
    tenant = await add_tenant(container)
    (message_id,) = await add_outbox(container, tenant, 1)
    async with container.unit_of_work() as uow:
        await uow.outbox.claim_due(clock.now(), LEASE_SECONDS, 10)
        await uow.outbox.mark_sent(message_id, "sandbox", "sbx_1", clock.now())
    clock.advance(LEASE_SECONDS * 10)
    async with container.unit_of_work() as uow:
        assert await uow.outbox.claim_due(clock.now(), LEASE_SECONDS, 10) == []
        row = (
            await sql(uow).execute(
                sa.select(t.outbox_messages).where(t.outbox_messages.c.id == message_id)
            )
        ).one()
    assert row.status == "sent" and row.payload is None and row.claimed_until is None


async def add_user_data(container: Container, user: User) -> None:
    now = container.clock.now()
    async with container.unit_of_work() as uow:
        await uow.authenticators.add(
            PhoneAuthenticator(
                id=ids.device_id(),
                tenant_id=user.tenant_id,
                user_id=user.user_id,
                phone_number="+14155550123",
                channel="sms",
                confirmed=True,
                created_at=now,
                confirmed_at=now,
                last_auth_at=None,
            )
        )
        await uow.recovery_codes.add(
            RecoveryCode(
                id=ids.device_id(),
                tenant_id=user.tenant_id,
                user_id=user.user_id,
                code_hash="h",
                key_id="k",
                confirmed=True,
                created_at=now,
            )
        )
        await uow.challenges.add(make_challenge(container, user), ids.random_token(40))


async def test_user_delete_removes_everything_of_that_user(container: Container) -> None:
    tenant, alice = await seeded(container)
    bob = await add_user(container, tenant, "bob@example.com")
    await add_user_data(container, alice)
    await add_user_data(container, bob)
    async with container.unit_of_work() as uow:
        assert await uow.users.delete(tenant.id, alice.user_id)
    async with container.unit_of_work() as uow:
        assert await uow.users.get(tenant.id, alice.user_id) is None
        assert await uow.authenticators.list_for_user(tenant.id, alice.user_id) == []
        assert await uow.recovery_codes.get_for_user(tenant.id, alice.user_id) == []
        remaining = (await sql(uow).execute(sa.select(t.challenges.c.user_id))).scalars().all()
        assert remaining == [bob.user_id]
        # Bob is untouched.
        assert await uow.users.get(tenant.id, bob.user_id) is not None
        assert len(await uow.authenticators.list_for_user(tenant.id, bob.user_id)) == 1
        assert len(await uow.recovery_codes.get_for_user(tenant.id, bob.user_id)) == 1
        # Deleting again reports nothing deleted.
        assert not await uow.users.delete(tenant.id, alice.user_id)


async def test_user_delete_is_scoped_to_the_tenant(container: Container) -> None:
    tenant, alice = await seeded(container)
    other = await add_tenant(container, "globex")
    await add_user_data(container, alice)
    async with container.unit_of_work() as uow:
        assert not await uow.users.delete(other.id, alice.user_id)
    async with container.unit_of_work() as uow:
        assert await uow.users.get(tenant.id, alice.user_id) is not None
        assert len(await uow.authenticators.list_for_user(tenant.id, alice.user_id)) == 1
        assert len(await uow.recovery_codes.get_for_user(tenant.id, alice.user_id)) == 1


async def test_tenant_for_host(container: Container) -> None:
    default = await add_tenant(container, "default", default=True)
    acme = await add_tenant(container, "acme", domain="login.acme.example")
    async with container.unit_of_work() as uow:
        for host in ("login.acme.example", "LOGIN.ACME.EXAMPLE", "login.acme.example:8443"):
            found = await uow.tenants.for_host(host)
            assert found is not None and found.id == acme.id, host
        for host in ("", "phonegate.test", "acme.example", "127.0.0.1:8080", "[::1]"):
            found = await uow.tenants.for_host(host)
            assert found is not None and found.id == default.id, host
            assert found.is_default


async def test_tenant_for_host_without_default_tenant(container: Container) -> None:
    acme = await add_tenant(container, "acme", domain="login.acme.example")
    async with container.unit_of_work() as uow:
        assert await uow.tenants.for_host("elsewhere.example") is None
        found = await uow.tenants.for_host("login.acme.example")
        assert found is not None and found.id == acme.id


async def test_tenant_settings_round_trip(container: Container, clock: FrozenClock) -> None:
    tenant = await add_tenant(container, default=True)
    tenant.settings.selected_provider = "sandbox"
    tenant.settings.message_types = ["sms", "voice"]
    tenant.settings.factor_sms_enabled = True
    tenant.settings.verification_message = "{{ code }}"
    async with container.unit_of_work() as uow:
        await uow.tenants.save_settings(tenant.id, tenant.settings, clock.now())
    async with container.unit_of_work() as uow:
        loaded = await uow.tenants.get(tenant.id)
    assert loaded is not None and loaded.settings == tenant.settings
