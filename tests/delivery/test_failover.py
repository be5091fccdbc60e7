"""The delivery chain end to end, through the Auth0 API against vendor fakes: failover from
the primary provider to a fallback, what is final and what is retried, loud failure when
the tenant phone provider is disabled, and Twilio Verify's feedback after a login."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.delivery.chain import Built, send_through
from phonegate.outbound import outbound_client
from phonegate.providers.base import Misconfigured, OutgoingMessage
from phonegate.providers.twilio import TwilioConfig, TwilioProvider
from phonegate.providers.twilio_verify import TwilioVerifyConfig, TwilioVerifyProvider
from tests.conftest import Api
from tests.delivery.conftest import (
    PHONE,
    SENDER,
    add_tenant_provider,
    add_vonage_fallback,
    challenge,
    enqueue_enrollment,
    enroll,
    events,
    from_twilio,
    from_vonage,
    last_message,
    message_detail,
    outbox,
    use_guardian_twilio,
)
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, TwilioFake
from tests.fakes.vonage import VonageFake

REJECTED_NUMBER = "+15005550001"  # Twilio refuses it: 21211, not a valid 'To'


@pytest.fixture
def own_twilio() -> Iterator[TwilioFake]:
    """A Twilio of this test's own, which it may stop."""
    with TwilioFake() as fake:
        yield fake


def twilio_tenant_provider(fake: TwilioFake) -> dict[str, object]:
    return {
        "name": "twilio",
        "configuration": {
            "sid": ACCOUNT_SID,
            "default_from": SENDER,
            "base_url": fake.url,
            "delivery_methods": ["text"],
        },
        "credentials": {"auth_token": AUTH_TOKEN},
    }


@pytest.mark.parametrize("outage", ["stopped", "503"])
async def test_mfa_login_completes_through_the_fallback_when_twilio_is_down(
    api: Api, container: Container, own_twilio: TwilioFake, vonage: VonageFake, outage: str
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, own_twilio)
    await add_vonage_fallback(api, vonage)
    await enroll(api, from_twilio(own_twilio))
    assert vonage.sent == []

    if outage == "stopped":
        own_twilio.stop()
    else:
        own_twilio.fail_next(503)
    token, oob_code = await challenge(api)
    r = await api.oob_grant(token, oob_code, from_vonage(vonage)())
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]

    message = await last_message(api)
    assert message["status"] == "sent" and message["provider"] == "vonage"
    failed, sent = message["attempts"]
    assert failed["provider"] == "twilio" and failed["outcome"] == "retry"
    assert failed["error_code"] == ("unreachable" if outage == "stopped" else "20503")
    assert sent["provider"] == "vonage (fallback 1)" and sent["outcome"] == "sent"
    assert sent["provider_message_id"] == vonage.sent[-1]["message-id"]
    assert vonage.sent[-1]["client-ref"] == message["id"]

    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["failover"] is True
    assert failure.details["provider"] == "twilio"
    assert failure.details["message_id"] == message["id"]
    first, second = await events(container, "gd_send_sms")
    assert first.details["provider"] == "twilio" and first.details["attempt"] == 1
    assert second.details["provider"] == "vonage"
    assert second.details["attempt"] == 2 and second.details["failover"] is True
    assert second.details["message_id"] == message["id"]


async def test_a_rejection_is_final(
    api: Api, container: Container, twilio: TwilioFake, vonage: VonageFake
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio)
    await add_vonage_fallback(api, vonage)
    await api.create_user()
    r = await api.associate(await api.mfa_token(), REJECTED_NUMBER)
    assert r.status_code == 200, r.text  # accepted: delivery is asynchronous

    assert vonage.received == []  # no failover
    message = await last_message(api)
    assert message["status"] == "failed"
    (attempt,) = message["attempts"]
    assert attempt["outcome"] == "rejected" and attempt["error_code"] == "21211"
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["failover"] is False
    assert failure.details["provider_error"]["errorCode"] == "21211"
    assert "5550001" not in json.dumps(failure.details)  # the number is masked
    assert await events(container, "gd_send_sms") == []


async def test_bad_credentials_fail_over_and_tell_the_operator(
    api: Api, container: Container, twilio: TwilioFake, vonage: VonageFake
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio, auth_token="not-the-auth-token")
    await add_vonage_fallback(api, vonage)
    await enroll(api, from_vonage(vonage))

    message = await last_message(api)
    assert [a["outcome"] for a in message["attempts"]] == ["misconfigured", "sent"]
    assert message["attempts"][0]["error_code"] == "20003"
    (admin,) = await events(container, "pg_provider_misconfigured")
    assert admin.details["provider"] == "twilio"
    assert admin.details["message_id"] == message["id"]
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["failover"] is True
    (sent,) = await events(container, "gd_send_sms")
    assert sent.details["provider"] == "vonage" and sent.details["attempt"] == 2
    for event in [admin, failure, sent]:
        assert "not-the-auth-token" not in json.dumps([event.description, event.details])


async def test_bad_credentials_without_a_fallback_fail_once_and_loudly(
    api: Api, container: Container, twilio: TwilioFake
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio, auth_token="not-the-auth-token")
    await api.create_user()
    r = await api.associate(await api.mfa_token(), PHONE)
    assert r.status_code == 200, r.text

    assert (await last_message(api))["status"] == "failed"
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["failover"] is False
    assert failure.details["provider_error"]["errorCode"] == "20003"
    assert len(await events(container, "pg_provider_misconfigured")) == 1


async def test_when_every_provider_fails_retryably_a_later_pass_sends(
    api: Api,
    container: Container,
    creds: Credentials,
    clock: FrozenClock,
    twilio: TwilioFake,
    vonage: VonageFake,
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio)
    await add_vonage_fallback(api, vonage)
    message_id = await enqueue_enrollment(container, creds, PHONE)
    twilio.fail_next(503)
    vonage.fail_next(429, headers={"Retry-After": "7"})
    started = clock.now()
    assert await container.dispatcher.run_once() == 1

    (waiting,) = await outbox(container)
    assert waiting.status == "pending" and waiting.payload
    assert (waiting.not_before - started).total_seconds() == 7  # Vonage's Retry-After
    clock.advance(6)
    assert await container.dispatcher.run_once() == 0
    clock.advance(1)
    assert await container.dispatcher.run_once() == 1

    detail = await message_detail(api, message_id)
    assert detail["status"] == "sent" and detail["provider"] == "twilio"
    assert [(a["provider"], a["outcome"]) for a in detail["attempts"]] == [
        ("twilio", "retry"),
        ("vonage (fallback 1)", "retry"),
        ("twilio", "sent"),
    ]
    assert len(twilio.messages) == 1 and vonage.sent == []
    (sent,) = await events(container, "gd_send_sms")
    assert sent.details["attempt"] == 1


async def test_a_code_that_expired_while_waiting_is_never_delivered(
    api: Api,
    container: Container,
    creds: Credentials,
    clock: FrozenClock,
    twilio: TwilioFake,
    vonage: VonageFake,
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(api, twilio)
    await add_vonage_fallback(api, vonage)
    message_id = await enqueue_enrollment(container, creds, PHONE)
    twilio.fail_next(503)
    vonage.fail_next(503)
    assert await container.dispatcher.run_once() == 1
    tried = len(twilio.received), len(vonage.received)

    clock.advance(container.settings.code_ttl_seconds)
    assert await container.dispatcher.run_once() == 1
    assert (len(twilio.received), len(vonage.received)) == tried
    detail = await message_detail(api, message_id)
    assert detail["status"] == "expired"
    assert len(detail["attempts"]) == 2  # the first pass's only
    failures = await events(container, "gd_send_sms_failure")
    assert "expired" in failures[-1].details["failure_details"]["message"]
    assert await events(container, "gd_send_sms") == []


async def test_a_disabled_tenant_provider_refuses_the_challenge_loudly(
    api: Api, container: Container, twilio: TwilioFake, vonage: VonageFake
) -> None:
    await api.enable_mfa()
    await add_vonage_fallback(api, vonage)
    provider_id = await add_tenant_provider(api, twilio_tenant_provider(twilio))
    await enroll(api, from_twilio(twilio))
    r = await api.mgmt("PATCH", f"/branding/phone/providers/{provider_id}", json={"disabled": True})
    assert r.status_code == 200, r.text

    r = await api.challenge(await api.mfa_token())
    assert r.status_code == 400, r.text
    description = r.json()["error_description"]
    assert "tenant phone provider" in description and "disabled" in description
    (failure,) = await events(container, "gd_send_sms_failure")
    assert "disabled" in failure.description
    (admin,) = await events(container, "pg_provider_misconfigured")
    assert "disabled" in admin.description
    assert len(twilio.messages) == 1 and vonage.received == []  # nothing took over


async def test_a_message_queued_before_the_provider_was_disabled_fails_at_dispatch(
    api: Api, container: Container, creds: Credentials, twilio: TwilioFake
) -> None:
    await api.enable_mfa()
    provider_id = await add_tenant_provider(api, twilio_tenant_provider(twilio))
    message_id = await enqueue_enrollment(container, creds, PHONE)
    r = await api.mgmt("PATCH", f"/branding/phone/providers/{provider_id}", json={"disabled": True})
    assert r.status_code == 200, r.text

    assert await container.dispatcher.run_once() == 1
    assert twilio.received == []
    detail = await message_detail(api, message_id)
    assert detail["status"] == "failed" and "disabled" in detail["last_error"]
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["message_id"] == message_id and "disabled" in failure.description
    (admin,) = await events(container, "pg_provider_misconfigured")
    assert admin.details["message_id"] == message_id and "disabled" in admin.description


def approvals(fake: TwilioFake, verification_sid: str) -> list[dict[str, list[str]]]:
    path = f"/v2/Services/{SERVICE_SID}/Verifications/{verification_sid}"
    return [r.form for r in fake.received if r.method == "POST" and r.path == path]


async def test_twilio_verify_hears_once_of_a_successful_login_and_never_of_a_failed_one(
    api: Api, container: Container, twilio: TwilioFake
) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(
        api, twilio, verify_service_sid=SERVICE_SID, verify_base_url=twilio.url
    )
    await enroll(api, lambda: twilio.verifications[-1].code)
    enrolled = twilio.verifications[-1]
    assert enrolled.custom_code and approvals(twilio, enrolled.sid) == []
    await container.dispatcher.run_once()
    assert approvals(twilio, enrolled.sid) == [{"Status": ["approved"]}]

    token, oob_code = await challenge(api)
    login = twilio.verifications[-1]
    assert login.sid != enrolled.sid
    wrong = "000000" if login.code != "000000" else "111111"
    r = await api.oob_grant(token, oob_code, wrong)
    assert r.status_code == 403, r.text
    await container.dispatcher.run_once()
    assert approvals(twilio, login.sid) == []  # a failed login is not a conversion

    r = await api.oob_grant(token, oob_code, login.code)
    assert r.status_code == 200, r.text
    await container.dispatcher.run_once()
    await container.dispatcher.run_once()
    assert approvals(twilio, login.sid) == [{"Status": ["approved"]}]
    assert login.status == "approved"
    assert approvals(twilio, enrolled.sid) == [{"Status": ["approved"]}]


def verify_through_chain(fake: TwilioFake, http: httpx.AsyncClient, mode: str) -> Built:
    config = TwilioVerifyConfig.model_validate(
        {
            "sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "service_sid": SERVICE_SID,
            "base_url": fake.url,
            "mode": mode,
        }
    )
    return Built(TwilioVerifyProvider(config, http), "twilio_verify", None)


def sms(code: str | None) -> OutgoingMessage:
    return OutgoingMessage(tenant_id="ten_1", recipient=PHONE, channel="sms", text="", code=code)


@pytest.mark.parametrize(("mode", "code"), [("hosted", None), ("custom_code", "482913")])
async def test_the_chain_lets_verify_make_the_code_only_in_hosted_mode(
    twilio: TwilioFake, mode: str, code: str | None
) -> None:
    async with outbound_client(allow_private=True) as http:
        result = await send_through(verify_through_chain(twilio, http, mode), sms(code))
    (verification,) = twilio.verifications
    assert result.provider_message_id == verification.sid
    assert verification.custom_code is (code is not None)
    if code is not None:
        assert verification.code == code


async def test_the_chain_never_swaps_whose_code_is_sent(twilio: TwilioFake) -> None:
    """A code phonegate made is not replaced by one Verify makes, and a code the vendor of
    a hosted verification makes cannot be sent by another provider."""
    messaging = TwilioConfig.model_validate(
        {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": SENDER, "base_url": twilio.url}
    )
    async with outbound_client(allow_private=True) as http:
        with pytest.raises(Misconfigured, match="hosted"):
            await send_through(verify_through_chain(twilio, http, "hosted"), sms("482913"))
        with pytest.raises(Misconfigured, match="hosted verification"):
            await send_through(Built(TwilioProvider(messaging, http), "twilio", None), sms(None))
    assert twilio.received == []
