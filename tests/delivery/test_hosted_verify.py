"""Twilio Verify in hosted mode, end to end: Verify makes, sends and checks the code, and
phonegate stores none — only the single-use and attempt rules stay phonegate's."""

from __future__ import annotations

import sqlalchemy as sa

from phonegate.container import Container
from phonegate.storage import tables as t
from phonegate.storage.repositories import SqlUnitOfWork
from tests.conftest import Api
from tests.delivery.conftest import challenge, enroll, use_guardian_twilio
from tests.fakes.twilio import SERVICE_SID, TwilioFake


async def hosted(api: Api, twilio: TwilioFake) -> None:
    await api.enable_mfa()
    await use_guardian_twilio(
        api,
        twilio,
        verify_service_sid=SERVICE_SID,
        verify_base_url=twilio.url,
        verify_mode="hosted",
    )


async def stored_hashes(container: Container) -> list[str]:
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        rows = await uow.conn.execute(sa.select(t.challenges.c.code_hash))
        return [r.code_hash for r in rows]


async def test_verify_owns_the_code_and_phonegate_stores_none(
    api: Api, container: Container, twilio: TwilioFake
) -> None:
    await hosted(api, twilio)
    await enroll(api, lambda: twilio.verifications[-1].code)
    enrolled = twilio.verifications[-1]
    assert not enrolled.custom_code  # Verify made the code
    # phonegate kept nothing to check the code with: only which provider will check it.
    [stored] = await stored_hashes(container)
    assert stored.startswith("hosted:pro_") and enrolled.code not in stored
    # The enrollment was confirmed by Verify's VerificationCheck, not a local compare.
    checks = [r for r in twilio.received if r.path.endswith("/VerificationCheck")]
    assert len(checks) == 1 and checks[0].form["Code"] == [enrolled.code]

    token, oob_code = await challenge(api)
    login = twilio.verifications[-1]
    wrong = "000000" if login.code != "000000" else "111111"
    r = await api.oob_grant(token, oob_code, wrong)
    assert r.status_code == 403 and r.json()["error_description"] == "Invalid binding_code."
    r = await api.oob_grant(token, oob_code, login.code)
    assert r.status_code == 200, r.text
    # Single use stays phonegate's: the same oob_code and code do not work twice.
    again = await api.oob_grant(token, oob_code, login.code)
    assert again.status_code == 403, again.text


async def test_a_vendor_outage_during_the_check_is_a_clear_503_not_a_wrong_code(
    api: Api, twilio: TwilioFake
) -> None:
    await hosted(api, twilio)
    await enroll(api, lambda: twilio.verifications[-1].code)
    token, oob_code = await challenge(api)
    login = twilio.verifications[-1]
    twilio.fail_next(503)
    r = await api.oob_grant(token, oob_code, login.code)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "temporarily_unavailable"
    r = await api.oob_grant(token, oob_code, login.code)  # the code still works afterwards
    assert r.status_code == 200, r.text


async def test_a_hosted_verifier_cannot_be_a_fallback(api: Api, twilio: TwilioFake) -> None:
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

    body = {
        "name": "twilio_verify",
        "credentials": {"auth_token": AUTH_TOKEN},
        "configuration": {
            "sid": ACCOUNT_SID,
            "service_sid": SERVICE_SID,
            "base_url": twilio.url,
            "mode": "hosted",
            "delivery_methods": ["text"],
        },
    }
    r = await api.mgmt("POST", "/phone/providers", json=body)
    assert r.status_code == 400, r.text
    assert "only be the primary provider" in r.json()["message"]
    body["configuration"]["mode"] = "custom_code"
    assert (await api.mgmt("POST", "/phone/providers", json=body)).status_code == 201
