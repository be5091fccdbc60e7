"""Bad input on the Authentication API (``/oauth/token``, ``/mfa/*``): the exact status and
``{error, error_description}`` body for each, the log events written, and that no log event
ever carries a code, a recovery code or a full phone number."""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import asdict, replace

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.models import LogEvent
from phonegate.keys import KeyRing
from phonegate.tokens import MfaTransaction, seal_mfa_token
from tests.conftest import Api
from tests.shapes import assert_error

GRANT_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
PHONE = "+14155550123"
OTHER_PHONE = "+14155550199"
E164_REQUIRED = (
    "The phone number must be in international format, starting with + "
    "and the country calling code (E.164)."
)
NOT_A_STRING = "phone_number is required and must be a string."
WRONG_LENGTH = "The phone number has the wrong length for its country."
NOT_VALID = "The phone number is not a valid number for its country."
TOO_LONG = "The phone number is too long."


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def events(container: Container) -> list[LogEvent]:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        return await uow.events.list(tenant.id, limit=100_000)


def wrong(code: str) -> str:
    """A six-digit code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def add_application(container: Container, creds: Credentials) -> tuple[str, str]:
    """A second confidential application: a copy of the demo application (same grants,
    same secret) under another client_id, as ``phonegate bootstrap`` would store one."""
    client_id = secrets.token_urlsafe(24)
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        demo = await uow.applications.get(tenant.id, creds.client_id)
        assert demo is not None
        await uow.applications.add(
            replace(demo, client_id=client_id, name="Other App", created_at=container.clock.now())
        )
    return client_id, creds.client_secret


async def started_enrollment(api: Api, phone: str = PHONE) -> tuple[str, str, str]:
    """MFA on, a user, and an enrollment in flight: (mfa_token, oob_code, code)."""
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    r = await api.associate(token, phone)
    assert r.status_code == 200, r.text
    return token, r.json()["oob_code"], await api.last_code(phone)


# --- phone numbers -----------------------------------------------------------------------


async def test_malformed_phone_numbers_are_rejected(api: Api) -> None:
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    cases: list[tuple[object, str]] = [
        (14155550123, NOT_A_STRING),
        (["+14155550123"], NOT_A_STRING),
        ({"number": "+14155550123"}, NOT_A_STRING),
        (True, NOT_A_STRING),
        ("", NOT_A_STRING),
        ("   ", NOT_A_STRING),
        ("14155550123", E164_REQUIRED),
        ("(415) 555-0123", E164_REQUIRED),
        ("+1415", WRONG_LENGTH),
        ("+141555501234567", WRONG_LENGTH),
        ("+15550000000", NOT_VALID),
        ("+1 555 000 0000", NOT_VALID),
        ("+1 (415) 555-0123 ext. 1234567890123", TOO_LONG),
        ("+" + "4" * 40, TOO_LONG),
    ]
    for raw, description in cases:
        r = await api.client.post(
            "/mfa/associate",
            headers=bearer(token),
            json={
                **api.app_auth,
                "authenticator_types": ["oob"],
                "oob_channels": ["sms"],
                "phone_number": raw,
            },
        )
        assert r.status_code == 400, (raw, r.text)
        assert r.json() == {"error": "invalid_request", "error_description": description}, raw
    # Nothing was enrolled and nothing was sent.
    r = await api.client.get("/mfa/authenticators", headers=bearer(token))
    assert r.status_code == 200 and r.json() == [], r.text
    assert await api.inbox() == []
    # Control: formatting characters and the 00 international prefix are fine.
    for raw in ("0014155550123", "+1 (415) 555-0123"):
        r = await api.associate(token, raw)
        assert r.status_code == 200, (raw, r.text)
    assert [m["recipient"] for m in await api.inbox()] == [PHONE, PHONE]


async def test_phone_numbers_with_letters_are_rejected(api: Api) -> None:
    """E.164 is digits only: letters must not be turned into digits (vanity numbers) or
    dropped (extensions) — the code would go to a number the user never typed."""
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    for raw in ("+1415555ABCD", "+1 415 555 ABCD", "+1415abc0123", "+14155550123x"):
        r = await api.associate(token, raw)
        assert r.status_code == 400, (raw, r.text)
        body = r.json()
        assert set(body) == {"error", "error_description"}, body
        assert body["error"] == "invalid_request", body
        assert "phone number" in body["error_description"].lower(), body
    assert await api.inbox() == []


# --- binding codes -----------------------------------------------------------------------


async def test_wrong_binding_code_then_right_code(api: Api, container: Container) -> None:
    """A wrong code (or a refused request) does not consume the oob_code."""
    token, oob_code, code = await started_enrollment(api)
    r = await api.oob_grant(token, oob_code, wrong(code))
    assert_error(r, 403, "invalid_grant", "Invalid binding_code.")
    failed = [e for e in await events(container) if e.type == "gd_auth_failed"]
    assert len(failed) == 1
    # Neither a missing binding_code nor an unknown oob_code touches the challenge.
    r = await api.client.post(
        "/oauth/token",
        json={"grant_type": GRANT_OOB, **api.app_auth, "mfa_token": token, "oob_code": oob_code},
    )
    assert_error(r, 400, "invalid_request", "binding_code is required")
    r = await api.oob_grant(token, secrets.token_urlsafe(24), code)
    assert_error(r, 403, "invalid_grant")
    # Nor does a request from the right application with the wrong secret.
    bad = {"client_id": api.creds.client_id, "client_secret": "nope"}
    r = await api.client.post(
        "/mfa/challenge", json={**bad, "mfa_token": token, "challenge_type": "oob"}
    )
    assert_error(r, 401, "access_denied", "Unauthorized")
    r = await api.client.post(
        "/mfa/associate",
        headers=bearer(token),
        json={
            **bad,
            "authenticator_types": ["oob"],
            "oob_channels": ["sms"],
            "phone_number": PHONE,
        },
    )
    assert_error(r, 401, "access_denied", "Unauthorized")
    r = await api.client.post(
        "/oauth/token",
        json={
            "grant_type": GRANT_OOB,
            **bad,
            "mfa_token": token,
            "oob_code": oob_code,
            "binding_code": code,
        },
    )
    assert_error(r, 401, "access_denied", "Unauthorized")
    # After all that, the right code still works.
    r = await api.oob_grant(token, oob_code, code)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"


async def test_attempts_exhausted_after_five_wrong_codes(api: Api) -> None:
    token, oob_code, code = await started_enrollment(api)
    for _ in range(5):
        r = await api.oob_grant(token, oob_code, wrong(code))
        assert_error(r, 403, "invalid_grant", "Invalid binding_code.")
    r = await api.oob_grant(token, oob_code, code)
    body = assert_error(r, 403, "invalid_grant")
    assert body["error_description"].startswith("Too many failed codes"), body
    # The enrollment never became active.
    r = await api.client.get("/mfa/authenticators", headers=bearer(token))
    assert [a["active"] for a in r.json() if a["authenticator_type"] == "oob"] == [False]


async def test_code_cannot_be_reused(api: Api) -> None:
    token, oob_code, code = await started_enrollment(api)
    r = await api.oob_grant(token, oob_code, code)
    assert r.status_code == 200, r.text
    r = await api.oob_grant(token, oob_code, code)
    assert_error(r, 403, "invalid_grant")
    # Nor with a fresh mfa_token for the same user.
    fresh = await api.mfa_token()
    r = await api.oob_grant(fresh, oob_code, code)
    assert_error(r, 403, "invalid_grant")


async def test_other_users_oob_code_does_not_match_my_mfa_token(api: Api) -> None:
    mine, _my_oob, _my_code = await started_enrollment(api)
    await api.create_user("bob@example.com")
    theirs = await api.mfa_token("bob@example.com")
    r = await api.associate(theirs, OTHER_PHONE)
    assert r.status_code == 200, r.text
    their_oob = r.json()["oob_code"]
    their_code = await api.last_code(OTHER_PHONE)
    r = await api.oob_grant(mine, their_oob, their_code)
    assert_error(r, 400, "invalid_request", "The oob_code doesn't match the mfa_token")
    # The attempt did not burn Bob's code.
    r = await api.oob_grant(theirs, their_oob, their_code)
    assert r.status_code == 200, r.text


# --- mfa_token ---------------------------------------------------------------------------


async def test_garbage_and_foreign_mfa_tokens_are_malformed(
    api: Api, container: Container, creds: Credentials
) -> None:
    _token, oob_code, code = await started_enrollment(api)
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        alice = await uow.users.get_by_email(tenant.id, "alice@example.com")
        assert alice is not None
    now = container.clock.now().timestamp()
    # Well-formed, for the right tenant/user/client, but sealed by another server's key.
    foreign = seal_mfa_token(
        MfaTransaction(
            tenant_id=tenant.id,
            user_id=alice.user_id,
            client_id=creds.client_id,
            audience="",
            scope="openid",
            realm=None,
            issued_at=now,
            expires_at=now + 600,
        ),
        KeyRing([secrets.token_bytes(32)]),
    )
    for bad in (
        "garbage",
        "Fe26.2*1*abc",
        "pgmfa.garbage",
        foreign,
        "pgmfa." + "A" * 5000,
        base64.urlsafe_b64encode(b'{"user_id": "x"}').decode(),
    ):
        r = await api.oob_grant(bad, oob_code, code)
        assert_error(r, 403, "invalid_grant", "Malformed mfa_token")
        r = await api.challenge(bad)
        assert_error(r, 403, "invalid_grant", "Malformed mfa_token")
    r = await api.client.post("/mfa/challenge", json={**api.app_auth, "challenge_type": "oob"})
    assert_error(r, 403, "invalid_grant", "Malformed mfa_token")


async def test_expired_code_then_expired_mfa_token(api: Api, clock: FrozenClock) -> None:
    token, oob_code, code = await started_enrollment(api)
    clock.advance(301)  # codes live 300 s; the mfa_token (600 s) is still good
    r = await api.oob_grant(token, oob_code, code)
    assert_error(r, 403, "expired_token")
    clock.advance(300)  # 601 s after the login
    r = await api.oob_grant(token, oob_code, code)
    assert_error(r, 403, "expired_token", "mfa_token is expired")
    r = await api.challenge(token)
    assert_error(r, 403, "expired_token", "mfa_token is expired")
    r = await api.associate(token, PHONE)
    assert_error(r, 403, "expired_token", "mfa_token is expired")


async def test_mfa_token_issued_to_another_client(api: Api, container: Container) -> None:
    await api.enable_mfa()
    await api.create_user()
    other_id, other_secret = await add_application(container, api.creds)
    r = await api.client.post(
        "/oauth/token",
        json={
            "grant_type": "password",
            "username": "alice@example.com",
            "password": "correct horse 1",
            "client_id": other_id,
            "client_secret": other_secret,
        },
    )
    assert r.status_code == 403 and r.json()["error"] == "mfa_required", r.text
    others = r.json()["mfa_token"]
    # The demo application may not use the other application's transaction.
    r = await api.associate(others, PHONE)
    assert_error(r, 400, "invalid_request", "mfa_token not issued to this client")
    r = await api.challenge(others)
    assert_error(r, 400, "invalid_request", "mfa_token not issued to this client")
    r = await api.oob_grant(others, "x" * 32, "123456")
    assert_error(r, 400, "invalid_request", "mfa_token not issued to this client")
    assert await api.inbox() == []
    # Control: the application it was issued to can enroll with it.
    r = await api.client.post(
        "/mfa/associate",
        headers=bearer(others),
        json={
            "client_id": other_id,
            "client_secret": other_secret,
            "authenticator_types": ["oob"],
            "oob_channels": ["sms"],
            "phone_number": PHONE,
        },
    )
    assert r.status_code == 200, r.text


async def test_tampered_mfa_token_in_associate_header_is_401(api: Api) -> None:
    """/mfa/associate authenticates with the Authorization header: an invalid mfa_token
    there is a 401 (wire reference 1.3), whatever it looks like."""
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    for bad in ("garbage", token[:-8] + "AAAAAAAA", "pgmfa.garbage"):
        r = await api.associate(bad, PHONE)
        assert r.status_code == 401, (bad[:20], r.text)
        assert set(r.json()) == {"error", "error_description"}, r.text
        assert r.json()["error"] == "invalid_token", r.text
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers


# --- client authentication and grant types -----------------------------------------------


async def test_wrong_client_secret_and_grant_type_errors(api: Api) -> None:
    login = {"grant_type": "password", "username": api.creds.email, "password": api.creds.password}
    for client in (
        {"client_id": api.creds.client_id, "client_secret": api.creds.client_secret + "x"},
        {"client_id": api.creds.client_id, "client_secret": ""},
        {"client_id": api.creds.client_id},  # a confidential application must prove itself
        {"client_id": "no-such-client", "client_secret": "x"},
    ):
        r = await api.client.post("/oauth/token", json={**login, **client})
        assert_error(r, 401, "access_denied", "Unauthorized")
    r = await api.client.post("/oauth/token", json=login)
    assert_error(r, 400, "invalid_request", "Missing required parameter: client_id")

    # Grant types: unknown, missing, not allowed for this client.
    r = await api.client.post(
        "/oauth/token", json={"grant_type": "urn:example:nope", **api.app_auth}
    )
    assert_error(r, 403, "unsupported_grant_type", "Unsupported grant type: urn:example:nope")
    for body in ({**api.app_auth}, {**api.app_auth, "grant_type": ""}, {}):
        r = await api.client.post("/oauth/token", json=body)
        assert_error(r, 400, "invalid_request", "Missing required parameter: grant_type")
    # A known grant the demo application is not allowed to use.
    r = await api.client.post(
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            **api.app_auth,
            "audience": "https://phonegate.test/api/v2/",
        },
    )
    assert_error(r, 403, "unauthorized_client")


# --- first factor --------------------------------------------------------------------------


async def test_wrong_password_and_unknown_user(api: Api, container: Container) -> None:
    user_id = await api.create_user()
    wrong_password = await api.login("alice@example.com", "not the password")
    assert_error(wrong_password, 403, "invalid_grant", "Wrong email or password.")
    [fp] = [e for e in await events(container) if e.type == "fp"]
    assert fp.user_id == user_id and fp.client_id == api.creds.client_id
    assert fp.ip == "203.0.113.7"
    assert "not the password" not in json.dumps(asdict(fp), default=str)
    # No user enumeration: an unknown user gets the very same answer.
    unknown_user = await api.login("nobody@example.com", "not the password")
    assert unknown_user.status_code == 403
    assert unknown_user.json() == wrong_password.json()
    assert unknown_user.headers.get("content-type") == wrong_password.headers.get("content-type")
    logged = [e.type for e in await events(container)]
    assert logged.count("fp") == 1 and logged.count("fu") == 1


async def test_mfa_required_follows_policy_and_logs_mfar(api: Api, container: Container) -> None:
    await api.enable_mfa()
    user_id = await api.create_user()
    r = await api.login(scope="openid")
    assert r.status_code == 403, r.text
    body = r.json()
    assert set(body) == {"error", "error_description", "mfa_token"}, body
    assert body["error"] == "mfa_required"
    assert body["error_description"] == "Multifactor authentication required"
    assert isinstance(body["mfa_token"], str) and body["mfa_token"]
    [mfar] = [e for e in await events(container) if e.type == "mfar"]
    assert mfar.user_id == user_id and mfar.client_id == api.creds.client_id
    assert body["mfa_token"] not in json.dumps(asdict(mfar), default=str)

    # Policy [] : no second factor demanded, no mfar logged.
    r = await api.mgmt("PUT", "/guardian/policies", json=[])
    assert r.status_code == 200 and r.json() == [], r.text
    r = await api.login(scope="openid")
    assert r.status_code == 200, r.text
    assert "access_token" in r.json() and "mfa_token" not in r.json()
    assert [e.type for e in await events(container)].count("mfar") == 1


# --- /mfa/associate ------------------------------------------------------------------------


async def test_associate_request_errors(api: Api) -> None:
    await api.enable_mfa(message_types=["sms"])
    await api.create_user()
    token = await api.mfa_token()
    payload = {
        **api.app_auth,
        "authenticator_types": ["oob"],
        "oob_channels": ["sms"],
        "phone_number": PHONE,
    }
    # No header at all, and the mfa_token in the body instead (it is not a body field).
    for body in (payload, {**payload, "mfa_token": token}):
        r = await api.client.post("/mfa/associate", json=body)
        assert_error(r, 401, "invalid_token")
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    r = await api.client.post(
        "/mfa/associate", headers={"authorization": f"Basic {token}"}, json=payload
    )
    assert_error(r, 401, "invalid_token")

    # Voice while only SMS is enabled, and channels/types that do not exist.
    r = await api.associate(token, PHONE, channel="voice")
    assert_error(
        r, 400, "invalid_request", "The voice message type is not enabled for this tenant."
    )
    base = {**api.app_auth, "phone_number": PHONE}
    for extra, error in (
        ({"authenticator_types": ["oob"], "oob_channels": ["email"]}, "invalid_request"),
        ({"authenticator_types": ["oob"], "oob_channels": ["sms", "voice"]}, "invalid_request"),
        ({"authenticator_types": ["oob"], "oob_channels": []}, "invalid_request"),
        ({"authenticator_types": ["oob"], "oob_channels": [1]}, "invalid_request"),
        ({"authenticator_types": ["oob"]}, "invalid_request"),
        ({"oob_channels": ["sms"]}, "invalid_request"),
        ({"authenticator_types": ["otp"], "oob_channels": ["sms"]}, None),
    ):
        r = await api.client.post("/mfa/associate", headers=bearer(token), json={**base, **extra})
        assert r.status_code == 400, (extra, r.text)
        assert set(r.json()) == {"error", "error_description"}, r.text
        if error:
            assert r.json()["error"] == error, (extra, r.text)
    assert await api.inbox() == []


async def test_enrolled_user_cannot_reenroll_or_remove_with_mfa_token(api: Api) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    token = await api.mfa_token()
    r = await api.associate(token, OTHER_PHONE)
    body = assert_error(r, 403, "access_denied")
    assert body["error_description"] == "User is already enrolled."
    assert [m["recipient"] for m in await api.inbox()] == [PHONE]

    # Removing an authenticator needs an MFA-API access token, not an mfa_token.
    r = await api.client.get("/mfa/authenticators", headers=bearer(token))
    oob = next(a for a in r.json() if a["authenticator_type"] == "oob")
    r = await api.client.delete(f"/mfa/authenticators/{oob['id']}", headers=bearer(token))
    assert r.status_code == 403, r.text
    assert set(r.json()) == {"error", "error_description"}, r.text
    # Still enrolled.
    r = await api.client.get("/mfa/authenticators", headers=bearer(token))
    assert [a["id"] for a in r.json() if a["authenticator_type"] == "oob"] == [oob["id"]]
    # Challenging an authenticator the user does not have.
    for authenticator_id in ("sms|dev_AAAAAAAAAAAAAAAA", "nonsense", "otp|" + oob["id"][4:]):
        r = await api.challenge(token, authenticator_id=authenticator_id)
        assert_error(r, 400, "invalid_request")
    assert len(await api.inbox()) == 1


async def test_voice_enrollment_with_sandbox(api: Api) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    await api.create_user()
    token = await api.mfa_token()
    r = await api.associate(token, PHONE, channel="voice")
    assert r.status_code == 200, r.text
    enrollment = r.json()
    assert enrollment["oob_channel"] == "voice" and enrollment["binding_method"] == "prompt"
    [message] = await api.inbox()
    assert message["channel"] == "voice" and message["recipient"] == PHONE
    assert message["provider"] == "sandbox"
    code = message["code"]
    assert len(code) == 6 and code.isdigit()
    spoken = ", ".join(code)
    assert spoken in message["text"], message["text"]
    assert re.search(rf"(?<![\d.]){code}(?![\d.])", message["text"]) is None, message["text"]
    r = await api.oob_grant(token, enrollment["oob_code"], code)
    assert r.status_code == 200, r.text
    # Both message types are enabled: the phone is listed on both channels.
    token = await api.mfa_token()
    r = await api.client.get("/mfa/authenticators", headers=bearer(token))
    channels = sorted(a["oob_channel"] for a in r.json() if a["authenticator_type"] == "oob")
    assert channels == ["sms", "voice"]


# --- /mfa/authenticators and /mfa/challenge ---------------------------------------------------


async def test_unconfirmed_enrollment_is_listed_inactive(api: Api) -> None:
    r = await api.client.get("/mfa/authenticators")
    assert_error(r, 401, "invalid_token")
    token, _oob_code, _code = await started_enrollment(api)
    r = await api.client.get("/mfa/authenticators", headers=bearer(token))
    assert r.status_code == 200, r.text
    [entry] = r.json()  # the recovery code is not listed until the phone is confirmed
    assert entry["authenticator_type"] == "oob" and entry["oob_channel"] == "sms"
    assert entry["active"] is False
    assert entry["name"] == "XXXXXXXX0123"
    assert re.fullmatch(r"sms\|dev_[A-Za-z0-9_-]{16}", entry["id"]), entry
    # An unconfirmed phone cannot be challenged.
    r = await api.challenge(token)
    assert_error(r, 400, "association_required")
    r = await api.challenge(token, authenticator_id=entry["id"])
    assert_error(r, 400, "association_required")
    assert len(await api.inbox()) == 1


# --- logs never carry secrets ----------------------------------------------------------------


async def test_no_log_event_contains_codes_or_full_numbers(api: Api, container: Container) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    user_id = await api.create_user()
    token = await api.mfa_token()
    r = await api.associate(token, PHONE)
    assert r.status_code == 200, r.text
    enrollment = r.json()
    [recovery] = enrollment["recovery_codes"]
    codes = [await api.last_code(PHONE)]
    wrong_codes = [wrong(codes[0])]
    r = await api.oob_grant(token, enrollment["oob_code"], wrong_codes[0])
    assert r.status_code == 403, r.text
    r = await api.oob_grant(token, enrollment["oob_code"], codes[0])
    assert r.status_code == 200, r.text

    # A challenge on each channel, one answered wrongly first.
    token = await api.mfa_token()
    listed = (await api.client.get("/mfa/authenticators", headers=bearer(token))).json()
    for entry in (a for a in listed if a["authenticator_type"] == "oob"):
        r = await api.challenge(token, authenticator_id=entry["id"])
        assert r.status_code == 200, r.text
        code = await api.last_code(PHONE)
        codes.append(code)
        oob_code = r.json()["oob_code"]
        wrong_codes.append(wrong(code))
        r = await api.oob_grant(token, oob_code, wrong_codes[-1])
        assert r.status_code == 403, r.text
        r = await api.oob_grant(token, oob_code, code)
        assert r.status_code == 200, r.text

    # Recovery code: a wrong one, then the right one (which mints a new one).
    token = await api.mfa_token()
    r = await api.recovery_grant(token, "A" * 24)
    assert r.status_code == 403, r.text
    r = await api.recovery_grant(token, recovery)
    assert r.status_code == 200, r.text
    fresh_recovery = r.json()["recovery_code"]
    # An administrator regenerates the recovery code.
    r = await api.mgmt("POST", f"/users/{user_id}/recovery-code-regeneration", json={})
    assert r.status_code == 200, r.text
    regenerated = r.json()["recovery_code"]
    # And a failed login.
    await api.login("alice@example.com", "wrong password")

    logged = await events(container)
    types = {e.type for e in logged}
    assert {"gd_start_enroll", "gd_enrollment_complete", "gd_start_auth", "gd_auth_failed"} <= (
        types
    ), types
    assert {"gd_send_sms", "gd_send_voice", "gd_recovery_failed", "mfar"} <= types, types
    masked = "XXXXXXXX0123"
    dumped = [json.dumps(asdict(e), default=str, ensure_ascii=False) for e in logged]
    assert any(masked in d for d in dumped), "the masked number should be logged"
    secrets_ = [recovery, fresh_recovery, regenerated, PHONE, PHONE[1:], PHONE[2:]]
    for d in dumped:
        for secret in secrets_:
            assert secret not in d, (secret, d)
        # Neither the codes sent nor the wrong guesses submitted.
        for code in codes + wrong_codes:
            assert re.search(rf"(?<!\d){code}(?!\d)", d) is None, (code, d)
            assert ", ".join(code) not in d, (code, d)
