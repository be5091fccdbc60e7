"""Passwordless SMS login driven by the official auth0-python SDK, unchanged, against a live
phonegate on loopback (auth0-api.md §6.1: ``Passwordless.sms`` and
``GetToken.passwordless_login``); the operator creates the sms connection with the SDK's
management client."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from auth0.authentication import GetToken, Passwordless
from auth0.authentication.exceptions import Auth0Error
from auth0.management import Auth0

from tests.e2e.conftest import LiveServer, wait_for_code

PHONE = "+14155550142"


def test_passwordless_sms_with_the_official_sdk(live_server: LiveServer) -> None:
    s = live_server
    creds = s.creds
    mgmt_token = GetToken(
        s.domain, creds.management_client_id, creds.management_client_secret, protocol="http"
    ).client_credentials(creds.audience)["access_token"]
    mgmt = Auth0(base_url=f"{s.url}/api/v2", token=mgmt_token, max_retries=0)

    # Operator: the sms connection, enabled for the demo application.
    created = mgmt.connections.create(
        name="sms",
        strategy="sms",
        options={
            "disable_signup": False,
            "totp": {"time_step": 180, "length": 6},
            "brute_force_protection": True,
        },
        enabled_clients=[creds.client_id],
    )
    assert created.id and created.id.startswith("con_") and created.strategy == "sms"
    assert [c.name for c in mgmt.connections.list(strategy="sms")] == ["sms"]

    # User: a code by SMS, then tokens; the first login signs the user up.
    passwordless = Passwordless(s.domain, creds.client_id, creds.client_secret, protocol="http")
    tokens = GetToken(s.domain, creds.client_id, creds.client_secret, protocol="http")
    seen: set[str] = set()

    def login(otp: str) -> dict[str, Any]:
        # The SDK's audience is typed str, but None (sent as null) is how apps omit it.
        result: dict[str, Any] = tokens.passwordless_login(
            username=PHONE,
            otp=otp,
            realm="sms",
            scope="openid profile",
            audience=None,  # type: ignore[arg-type]
        )
        return result

    started = passwordless.sms(PHONE)
    assert started["phone_number"] == PHONE and len(started["_id"]) == 24
    code = wait_for_code(s, mgmt_token, PHONE, seen)
    with pytest.raises(Auth0Error) as caught:
        login("000000" if code != "000000" else "111111")
    assert caught.value.status_code == 403 and caught.value.error_code == "invalid_grant"
    assert caught.value.message == "Wrong phone number or verification code."
    first = login(code)
    assert first["token_type"] == "Bearer" and first["access_token"]
    user_id = jwt.decode(first["id_token"], options={"verify_signature": False})["sub"]
    assert user_id.startswith("sms|")

    # The code is spent; a new one signs the same user in again.
    with pytest.raises(Auth0Error) as caught:
        login(code)
    assert caught.value.status_code == 403
    assert passwordless.sms(PHONE)["phone_verified"] is True
    again = login(wait_for_code(s, mgmt_token, PHONE, seen))
    assert jwt.decode(again["id_token"], options={"verify_signature": False})["sub"] == user_id
