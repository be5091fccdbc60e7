"""The outbox dispatcher end to end: expiry, provider capabilities and caps, production
refusal of the sandbox, audit events, and erasure of the payload."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.delivery.dispatcher import Dispatcher
from phonegate.domain import enrollments
from phonegate.domain.models import LogEvent, RequestContext, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.providers.base import Misconfigured, OutgoingMessage
from phonegate.providers.registry import ProviderRegistry
from phonegate.providers.sandbox import EVALUATION_LIFETIME_CAP
from phonegate.storage import tables as t
from phonegate.storage.inbox import SqlInbox
from phonegate.storage.repositories import SqlUnitOfWork
from tests.conftest import Api

PHONE = "+14155550123"
MASKED = "XXXXXXXX0123"


def sql(uow: UnitOfWork) -> AsyncConnection:
    """The unit of work's connection, for checks the repositories do not offer."""
    assert isinstance(uow, SqlUnitOfWork)
    return uow.conn


async def default_tenant(container: Container) -> Tenant:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
    assert tenant is not None
    return tenant


async def set_provider(container: Container, clock: FrozenClock, name: str) -> None:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        tenant.settings.selected_provider = name
        await uow.tenants.save_settings(tenant.id, tenant.settings, clock.now())


async def outbox_rows(container: Container) -> list[Any]:
    async with container.unit_of_work() as uow:
        rows = await sql(uow).execute(
            sa.select(t.outbox_messages).order_by(t.outbox_messages.c.created_at)
        )
        return list(rows.all())


async def inbox_rows(container: Container) -> list[Any]:
    async with container.unit_of_work() as uow:
        return list((await sql(uow).execute(sa.select(t.inbox_messages))).all())


async def events(container: Container, type_: str) -> list[LogEvent]:
    tenant = await default_tenant(container)
    async with container.unit_of_work() as uow:
        return await uow.events.list(tenant.id, type_=type_)


async def all_events(container: Container) -> list[LogEvent]:
    tenant = await default_tenant(container)
    async with container.unit_of_work() as uow:
        return await uow.events.list(tenant.id, limit=1000)


async def enqueue_enrollment(container: Container, creds: Credentials, channel: str = "sms") -> str:
    """Start an enrollment for the demo user in the domain, as a request would, but without
    kicking the dispatcher: the message waits in the outbox. Returns the outbox message id."""
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        app = await uow.applications.get(tenant.id, creds.client_id)
        user = await uow.users.get(tenant.id, creds.user_id)
        assert app is not None and user is not None
        await enrollments.associate(
            uow,
            container.deps,
            tenant,
            app,
            user,
            {"authenticator_types": ["oob"], "oob_channels": [channel], "phone_number": PHONE},
            RequestContext(ip="203.0.113.9", user_agent="pytest"),
            additional_allowed=False,
        )
    rows = await outbox_rows(container)
    assert rows and rows[-1].status == "pending" and rows[-1].payload
    message_id: str = rows[-1].id
    return message_id


def failure_code(event: LogEvent) -> str:
    code: str = event.details["failure_details"]["errorCode"]
    return code


async def test_code_expired_before_dispatch_is_not_delivered(
    api: Api, container: Container, creds: Credentials, clock: FrozenClock
) -> None:
    await api.enable_mfa()
    message_id = await enqueue_enrollment(container, creds)
    clock.advance(container.settings.code_ttl_seconds)
    assert await container.dispatcher.run_once() == 1
    (row,) = await outbox_rows(container)
    assert row.id == message_id
    assert row.status == "expired"
    assert row.payload is None
    assert row.sent_at is None
    assert await inbox_rows(container) == []
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["message_id"] == message_id
    assert failure.details["to"] == MASKED
    assert "expired" in failure.details["failure_details"]["message"]
    assert failure.user_id == creds.user_id
    assert await events(container, "gd_send_sms") == []
    # Nothing is left to retry.
    clock.advance(3600)
    assert await container.dispatcher.run_once() == 0
    assert await inbox_rows(container) == []


async def test_code_is_delivered_up_to_its_last_second(
    api: Api, container: Container, creds: Credentials, clock: FrozenClock
) -> None:
    await api.enable_mfa()
    message_id = await enqueue_enrollment(container, creds)
    clock.advance(container.settings.code_ttl_seconds - 1)
    assert await container.dispatcher.run_once() == 1
    (row,) = await outbox_rows(container)
    assert row.id == message_id and row.status == "sent"
    assert len(await inbox_rows(container)) == 1


async def test_evaluation_provider_refuses_voice_at_associate(
    api: Api, container: Container, clock: FrozenClock
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    await set_provider(container, clock, "auth0")
    user_id = await api.create_user()
    token = await api.mfa_token()
    r = await api.associate(token, PHONE, channel="voice")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_request", body
    assert "voice" in body["error_description"], body
    (failure,) = await events(container, "gd_send_voice_failure")
    assert failure.user_id == user_id
    assert "voice" in failure.description
    # Nothing was enrolled, queued or sent.
    assert await outbox_rows(container) == []
    assert await inbox_rows(container) == []
    r = await api.client.get("/mfa/authenticators", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json() == [], r.text
    # SMS through the same provider still works.
    r = await api.associate(token, PHONE, channel="sms")
    assert r.status_code == 200, r.text
    (delivered,) = await inbox_rows(container)
    assert delivered.provider == "auth0" and delivered.channel == "sms"


async def set_evaluation_count(container: Container, value: int) -> None:
    tenant = await default_tenant(container)
    async with container.unit_of_work() as uow:
        await sql(uow).execute(
            t.tenant_settings.update()
            .where(t.tenant_settings.c.tenant_id == tenant.id)
            .values(evaluation_messages_sent=value)
        )


async def evaluation_count(container: Container) -> int:
    async with container.unit_of_work() as uow:
        count: int = (
            await sql(uow).execute(sa.select(t.tenant_settings.c.evaluation_messages_sent))
        ).scalar_one()
    return count


async def test_evaluation_provider_stops_after_its_lifetime_cap(
    api: Api, container: Container, clock: FrozenClock
) -> None:
    assert EVALUATION_LIFETIME_CAP == 100
    await api.enable_mfa()
    await set_provider(container, clock, "auth0")
    await set_evaluation_count(container, 99)
    await api.create_user()
    token = await api.mfa_token()

    # The 100th message goes out.
    r = await api.associate(token, PHONE)
    assert r.status_code == 200, r.text
    assert len(await inbox_rows(container)) == 1
    assert await evaluation_count(container) == 100

    # The 101st does not.
    r = await api.associate(token, PHONE)
    assert r.status_code == 200, r.text  # accepted: delivery is asynchronous
    assert len(await inbox_rows(container)) == 1
    assert await evaluation_count(container) == 100
    first, second = await outbox_rows(container)
    assert first.status == "sent"
    assert second.status == "failed"
    assert second.payload is None
    assert second.provider == "auth0"
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure_code(failure) == "too_many_sms_per_tenant"
    assert failure.details["message_id"] == second.id
    assert failure.details["to"] == MASKED
    assert len(await events(container, "gd_send_sms")) == 1
    # The operator must configure a real provider: that is an admin event too.
    (admin,) = await events(container, "pg_provider_misconfigured")
    assert "lifetime limit" in admin.description


async def test_sandbox_is_refused_in_production(
    api: Api, container: Container, creds: Credentials, clock: FrozenClock
) -> None:
    inbox = SqlInbox(container.unit_of_work)
    production = ProviderRegistry(inbox, production=True, http=httpx.AsyncClient())
    refusal = production.refusal("sandbox")
    assert refusal is not None and "production" in refusal
    assert production.refusal("auth0") is None
    assert (
        ProviderRegistry(inbox, production=False, http=httpx.AsyncClient()).refusal("sandbox")
        is None
    )

    sandbox = production.builtin("sandbox")
    assert sandbox is not None
    with pytest.raises(Misconfigured, match="production"):
        await sandbox.send_sms(
            OutgoingMessage(
                tenant_id="ten_x", recipient=PHONE, channel="sms", text="hi", code="123456"
            )
        )

    # A message queued for the sandbox is failed (not retried) by a production dispatcher.
    await api.enable_mfa()
    assert (await default_tenant(container)).settings.selected_provider == "sandbox"
    message_id = await enqueue_enrollment(container, creds)
    dispatcher = Dispatcher(container.unit_of_work, production, container.keys, clock)
    assert await dispatcher.run_once() == 1
    (row,) = await outbox_rows(container)
    assert row.id == message_id
    assert row.status == "failed"
    assert row.payload is None
    assert row.provider == "sandbox"
    assert await inbox_rows(container) == []
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["provider"] == "sandbox"
    assert "production" in failure.details["failure_details"]["message"]
    clock.advance(3600)
    assert await dispatcher.run_once() == 0


async def test_successful_send_logs_masked_number_and_erases_payload(
    api: Api, container: Container
) -> None:
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    r = await api.associate(token, PHONE)
    assert r.status_code == 200, r.text
    code = await api.last_code(PHONE)

    (row,) = await outbox_rows(container)
    assert row.status == "sent"
    assert row.payload is None
    assert row.sent_at is not None
    assert row.provider == "sandbox"
    assert row.provider_message_id

    (sent,) = await events(container, "gd_send_sms")
    assert sent.details["to"] == MASKED
    assert sent.details["provider"] == "sandbox"
    assert sent.details["message_id"] == row.id
    assert await events(container, "gd_send_sms_failure") == []
    # No event anywhere carries the full number or the code.
    for event in await all_events(container):
        dumped = json.dumps([event.description, event.details, event.user_name, event.client_name])
        assert "4155550123" not in dumped, event
        assert code not in dumped, event


async def test_voice_send_logs_gd_send_voice(
    api: Api, container: Container, creds: Credentials
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    message_id = await enqueue_enrollment(container, creds, channel="voice")
    assert await container.dispatcher.run_once() == 1
    (delivered,) = await inbox_rows(container)
    assert delivered.channel == "voice"
    assert ", ".join(delivered.code) in delivered.text  # the code is read digit by digit
    (sent,) = await events(container, "gd_send_voice")
    assert sent.details["message_id"] == message_id
    assert sent.details["to"] == MASKED


async def test_only_providers_that_learn_from_feedback_are_asked_for_it(
    api: Api, container: Container
) -> None:
    # A right code marks feedback due only where the sending provider wants it (Twilio
    # Verify); the sandbox does not, so nothing piles up for the dispatcher to skip.
    await api.enable_mfa()
    await api.enrolled_user()
    rows = await outbox_rows(container)
    assert rows and all(row.status == "sent" for row in rows)
    assert {row.feedback_status for row in rows} == {None}
