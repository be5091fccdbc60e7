"""The whole phone-MFA flow driven by the official auth0-python SDK, unchanged, against a
live phonegate on loopback (see auth0-api.md §6 for how the SDK is pointed at http)."""

from __future__ import annotations

from typing import Any

import pytest
from auth0.authentication import GetToken
from auth0.authentication.base import AuthenticationBase
from auth0.authentication.exceptions import Auth0Error
from auth0.authentication.rest import RestClient, RestClientOptions
from auth0.management import Auth0

from tests.e2e.conftest import LiveServer, wait_for_code

REALM = "Username-Password-Authentication"
EMAIL = "sdk-user@example.com"
PASSWORD = "sdk password 123"
PHONE = "+14155550188"


def _mfa_token(gt: GetToken, scope: str = "openid profile", **kwargs: str) -> str:
    with pytest.raises(Auth0Error) as caught:
        gt.login(EMAIL, PASSWORD, realm=REALM, scope=scope, **kwargs)
    assert caught.value.status_code == 403
    assert caught.value.error_code == "mfa_required"
    token: str = caught.value.content["mfa_token"]
    return token


def _oob_grant(
    base: AuthenticationBase, s: LiveServer, mfa_token: str, oob_code: str, binding_code: str
) -> dict[str, Any]:
    """The mfa-oob grant as an application sends it with the SDK (no MFA helpers in 6.x)."""
    tokens: dict[str, Any] = base.authenticated_post(
        f"{s.url}/oauth/token",
        {
            "client_id": base.client_id,
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
            "mfa_token": mfa_token,
            "oob_code": oob_code,
            "binding_code": binding_code,
        },
    )
    return tokens


def test_phone_mfa_with_the_official_sdk(live_server: LiveServer) -> None:
    s = live_server
    creds = s.creds
    gt = GetToken(s.domain, creds.client_id, creds.client_secret, protocol="http")
    base = AuthenticationBase(s.domain, creds.client_id, creds.client_secret, protocol="http")
    mgmt_gt = GetToken(
        s.domain, creds.management_client_id, creds.management_client_secret, protocol="http"
    )
    mgmt_token = mgmt_gt.client_credentials(creds.audience)["access_token"]
    mgmt = Auth0(base_url=f"{s.url}/api/v2", token=mgmt_token, max_retries=0)

    # Operator: create a user, enable the phone factor with recovery codes, require MFA.
    user = mgmt.users.create(connection=REALM, email=EMAIL, password=PASSWORD)
    assert user.user_id and user.user_id.startswith("auth0|")
    assert mgmt.guardian.factors.set("sms", enabled=True).enabled is True
    mgmt.guardian.factors.set("recovery-code", enabled=True)
    mgmt.guardian.factors.phone.set_message_types(message_types=["sms", "voice"])
    assert list(mgmt.guardian.factors.phone.get_message_types().message_types or []) == [
        "sms",
        "voice",
    ]
    mgmt.guardian.policies.set(request=["all-applications"])
    factors = {f.name: f.enabled for f in mgmt.guardian.factors.list()}
    assert factors["sms"] is True and factors["recovery-code"] is True

    # User: password → mfa_required → enroll a phone → code from the sandbox → tokens.
    seen: set[str] = set()
    mfa_token = _mfa_token(gt)
    enrollment = base.authenticated_post(
        f"{s.url}/mfa/associate",
        {
            "client_id": creds.client_id,
            "authenticator_types": ["oob"],
            "oob_channels": ["sms"],
            "phone_number": PHONE,
        },
        headers={"Authorization": f"Bearer {mfa_token}"},
    )
    assert enrollment["oob_channel"] == "sms"
    recovery_code = enrollment["recovery_codes"][0]
    code = wait_for_code(s, mgmt_token, PHONE, seen)

    with pytest.raises(Auth0Error) as wrong:
        _oob_grant(
            base, s, mfa_token, enrollment["oob_code"], "000000" if code != "000000" else "111111"
        )
    assert (
        wrong.value.error_code == "invalid_grant" and wrong.value.message == "Invalid binding_code."
    )

    tokens = _oob_grant(base, s, mfa_token, enrollment["oob_code"], code)
    assert tokens["token_type"] == "Bearer" and "id_token" in tokens

    # The Management API sees the confirmed phone, masked.
    methods = list(mgmt.users.authentication_methods.list(user.user_id))
    phones = [m for m in methods if m.type == "phone"]
    assert len(phones) == 1 and phones[0].phone_number == "XXXXXXXX0188" and phones[0].confirmed

    # Next login: challenge the enrolled phone by voice, then complete it.
    mfa_token = _mfa_token(gt)
    authenticators = base.get(
        f"{s.url}/mfa/authenticators", headers={"Authorization": f"Bearer {mfa_token}"}
    )
    voice = next(a for a in authenticators if a.get("oob_channel") == "voice")
    challenge = base.authenticated_post(
        f"{s.url}/mfa/challenge",
        {
            "client_id": creds.client_id,
            "mfa_token": mfa_token,
            "challenge_type": "oob",
            "authenticator_id": voice["id"],
        },
    )
    code = wait_for_code(s, mgmt_token, PHONE, seen)
    tokens = _oob_grant(base, s, mfa_token, challenge["oob_code"], code)
    assert tokens["access_token"]

    # Recovery code: works once, returns a fresh one.
    mfa_token = _mfa_token(gt)
    recovered = base.authenticated_post(
        f"{s.url}/oauth/token",
        {
            "client_id": creds.client_id,
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-recovery-code",
            "mfa_token": mfa_token,
            "recovery_code": recovery_code,
        },
    )
    assert recovered["recovery_code"] != recovery_code
    with pytest.raises(Auth0Error) as reused:
        base.authenticated_post(
            f"{s.url}/oauth/token",
            {
                "client_id": creds.client_id,
                "grant_type": "http://auth0.com/oauth/grant-type/mfa-recovery-code",
                "mfa_token": mfa_token,
                "recovery_code": recovery_code,
            },
        )
    assert reused.value.error_code == "invalid_grant"

    # An MFA-API access token can remove the phone (RestClient, as auth0-api.md §6 says).
    mfa_token = _mfa_token(gt, audience=f"{s.url}/mfa/")
    challenge = base.authenticated_post(
        f"{s.url}/mfa/challenge",
        {"client_id": creds.client_id, "mfa_token": mfa_token, "challenge_type": "oob"},
    )
    code = wait_for_code(s, mgmt_token, PHONE, seen)
    mfa_api = _oob_grant(base, s, mfa_token, challenge["oob_code"], code)
    sms_id = next(a["id"] for a in authenticators if a.get("oob_channel") == "sms")
    # Scope asked at login was "openid profile": not enough to remove an authenticator.
    with pytest.raises(Auth0Error) as forbidden:
        RestClient(jwt=mfa_api["access_token"], options=RestClientOptions(retries=0)).delete(
            f"{s.url}/mfa/authenticators/{sms_id}"
        )
    assert forbidden.value.status_code == 403

    mfa_token = _mfa_token(
        gt, scope="read:authenticators remove:authenticators", audience=f"{s.url}/mfa/"
    )
    challenge = base.authenticated_post(
        f"{s.url}/mfa/challenge",
        {"client_id": creds.client_id, "mfa_token": mfa_token, "challenge_type": "oob"},
    )
    code = wait_for_code(s, mgmt_token, PHONE, seen)
    mfa_api = _oob_grant(base, s, mfa_token, challenge["oob_code"], code)
    assert mfa_api["scope"] == "read:authenticators remove:authenticators"
    RestClient(jwt=mfa_api["access_token"], options=RestClientOptions(retries=0)).delete(
        f"{s.url}/mfa/authenticators/{sms_id}"
    )
    listed = base.get(
        f"{s.url}/mfa/authenticators",
        headers={"Authorization": f"Bearer {mfa_api['access_token']}"},
    )
    assert [a for a in listed if a["authenticator_type"] == "oob"] == []

    # With no phone left the user must enroll again: associate with an mfa_token works.
    mfa_token = _mfa_token(gt)
    again = base.authenticated_post(
        f"{s.url}/mfa/associate",
        {
            "client_id": creds.client_id,
            "authenticator_types": ["oob"],
            "oob_channels": ["voice"],
            "phone_number": PHONE,
        },
        headers={"Authorization": f"Bearer {mfa_token}"},
    )
    assert again["oob_channel"] == "voice" and "recovery_codes" not in again

    mgmt.users.authenticators.delete_all(user.user_id)
    assert [
        m for m in mgmt.users.authentication_methods.list(user.user_id) if m.type == "phone"
    ] == []
    mgmt.users.delete(user.user_id)
