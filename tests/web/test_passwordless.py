"""Passwordless SMS login over the Auth0 wire (auth0-api.md §2): /passwordless/start, the
passwordless/otp grant, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt

from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.models import LogEvent, User
from tests.conftest import Api
from tests.shapes import assert_error

PHONE = "+14155550123"
OTHER_PHONE = "+14155550177"
GRANT = "http://auth0.com/oauth/grant-type/passwordless/otp"
WRONG = "Wrong phone number or verification code."
MAX_ATTEMPTS = "You've reached the maximum number of attempts. Please try to login again."


async def sms_connection(api: Api, **options: Any) -> dict[str, Any]:
    r = await api.mgmt(
        "POST",
        "/connections",
        json={
            "name": "sms",
            "strategy": "sms",
            "options": options,
            "enabled_clients": [api.creds.client_id],
        },
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def start(api: Api, phone: object = PHONE, **extra: Any) -> httpx.Response:
    return await api.client.post(
        "/passwordless/start",
        json={**api.app_auth, "connection": "sms", "phone_number": phone, **extra},
    )


async def otp_grant(api: Api, code: str, phone: str = PHONE, **extra: Any) -> httpx.Response:
    return await api.client.post(
        "/oauth/token",
        json={
            "grant_type": GRANT,
            **api.app_auth,
            "username": phone,
            "otp": code,
            "realm": "sms",
            "scope": "openid profile",
            **extra,
        },
    )


async def code_for(api: Api, phone: str = PHONE) -> str:
    r = await start(api, phone)
    assert r.status_code == 200, r.text
    return await api.last_code(phone)


async def events(container: Container, type_: str | None = None) -> list[LogEvent]:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        return await uow.events.list(tenant.id, limit=500, type_=type_)


async def stored_user(container: Container, user_id: str) -> User:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        user = await uow.users.get(tenant.id, user_id)
    assert user is not None
    return user


async def set_limits(api: Api, **limits: int) -> None:
    r = await api.mgmt("PATCH", "/attack-protection/phone-limits", json=limits)
    assert r.status_code == 200, r.text


def other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def subject(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    sub: str = claims["sub"]
    return sub


async def test_first_login_signs_up_and_the_next_finds_the_user(
    api: Api, container: Container
) -> None:
    await sms_connection(api)
    r = await start(api, "+1 (415) 555-0123")
    assert r.status_code == 200, r.text
    started = r.json()
    assert set(started) == {"_id", "phone_number", "phone_verified", "request_language"}
    assert len(started["_id"]) == 24 and int(started["_id"], 16) >= 0
    assert started["phone_number"] == PHONE and started["phone_verified"] is False
    assert started["request_language"] == "en"
    [message] = await api.inbox()
    assert message["recipient"] == PHONE and message["channel"] == "sms"
    assert len(message["code"]) == 6 and message["code"] in message["text"]

    r = await otp_grant(api, message["code"])
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile"
    user_id = subject(tokens)
    assert user_id.startswith("sms|") and len(user_id) == len("sms|") + 24
    r = await api.mgmt("GET", f"/users/{user_id}")
    assert r.status_code == 200 and r.json()["logins_count"] == 1, r.text
    shown = r.json()
    assert shown["phone_number"] == PHONE and shown["phone_verified"] is True
    assert "email" not in shown and "email_verified" not in shown
    assert shown["identities"] == [
        {
            "connection": "sms",
            "user_id": user_id.split("|", 1)[1],
            "provider": "sms",
            "isSocial": False,
        }
    ]
    user = await stored_user(container, user_id)
    assert (user.email, user.connection, user.phone_number) == (None, "sms", PHONE)
    assert user.phone_verified is True and user.name == PHONE

    # Second login: the same user, its number now verified.
    r = await start(api, PHONE)
    assert r.status_code == 200 and r.json()["phone_verified"] is True, r.text
    r = await otp_grant(api, await api.last_code(PHONE))
    assert r.status_code == 200, r.text
    assert subject(r.json()) == user_id
    assert (await api.mgmt("GET", f"/users/{user_id}")).json()["logins_count"] == 2

    logged = await events(container)
    mine = [
        e.type for e in logged if e.type == "cs" or (e.type in ("s", "ss") and e.user_id == user_id)
    ]
    assert mine == ["s", "cs", "s", "ss", "cs"]  # newest first
    [signup] = [e for e in logged if e.type == "ss" and e.connection == "sms"]
    assert signup.user_id == user_id
    for event in logged:
        text = repr(event)
        assert PHONE not in text and message["code"] not in text, event
    assert all(e.user_name == "XXXXXXXX0123" for e in logged if e.type == "cs")


async def test_form_bodies_nulls_and_the_request_language(api: Api) -> None:
    await sms_connection(api)
    r = await api.client.post(
        "/passwordless/start",
        data={**api.app_auth, "connection": "sms", "phone_number": PHONE, "send": "code"},
        headers={"x-request-language": "fr"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["request_language"] == "fr"
    [message] = await api.inbox()
    assert message["code"] in message["text"] and "vérification" in message["text"]
    r = await api.client.post(
        "/oauth/token",
        data={**api.app_auth, "grant_type": GRANT, "username": PHONE, "otp": message["code"]}
        | {"realm": "sms"},
    )
    assert r.status_code == 200, r.text

    # auth0-python sends unset arguments as JSON null: they count as absent.
    r = await start(api, send=None, authParams=None)
    assert r.status_code == 200, r.text
    r = await otp_grant(api, await api.last_code(), scope=None, audience=None)
    assert r.status_code == 200, r.text
    assert "id_token" not in r.json()


async def test_signup_disabled_refuses_new_numbers_only(api: Api) -> None:
    connection = await sms_connection(api)
    r = await otp_grant(api, await code_for(api))
    assert r.status_code == 200, r.text
    r = await api.mgmt(
        "PATCH", f"/connections/{connection['id']}", json={"options": {"disable_signup": True}}
    )
    assert r.status_code == 200, r.text

    r = await start(api, OTHER_PHONE)
    assert_error(r, 400, "bad.connection", "Public signup is disabled")
    assert all(m["recipient"] != OTHER_PHONE for m in await api.inbox())
    r = await otp_grant(api, await code_for(api))  # the existing user still signs in
    assert r.status_code == 200, r.text


async def test_connection_must_exist_be_passwordless_and_enabled(api: Api) -> None:
    r = await start(api)
    assert_error(r, 400, "bad.connection", "Connection does not exist")
    r = await start(api, connection="Username-Password-Authentication")
    assert_error(
        r,
        400,
        "bad.connection",
        "Invalid connection strategy. It must either be a passwordless connection",
    )
    r = await api.client.post("/passwordless/start", json={**api.app_auth, "phone_number": PHONE})
    assert_error(r, 400, "bad.connection", "Missing required property: connection")
    r = await otp_grant(api, "123456")
    assert_error(r, 400, "invalid_request", "Connection does not exist")

    connection = await sms_connection(api)
    code = await code_for(api)
    r = await api.mgmt("PATCH", f"/connections/{connection['id']}", json={"enabled_clients": []})
    assert r.status_code == 200, r.text
    assert_error(await start(api), 400, "bad.connection", "Connection is disabled")
    assert_error(await otp_grant(api, code), 400, "invalid_request", "Connection is disabled")
    assert len(await api.inbox()) == 1


async def test_client_authentication(api: Api) -> None:
    await sms_connection(api)
    body = {"connection": "sms", "phone_number": PHONE}
    cases = [
        (body, 400, "bad.client_id", "Missing required property: client_id"),
        ({**body, "client_id": "nobody"}, 400, "bad.client_id", "Unknown client."),
        (
            {**body, "client_id": api.creds.client_id},
            401,
            "unauthorized_client",
            "Client authentication is required",
        ),
        (
            {**body, "client_id": api.creds.client_id, "client_secret": "wrong"},
            401,
            "unauthorized_client",
            "Unauthorized",
        ),
        (
            {
                **body,
                "client_id": api.creds.management_client_id,
                "client_secret": api.creds.management_client_secret,
            },
            401,
            "unauthorized_client",
            None,
        ),
    ]
    for sent, status, error, description in cases:
        r = await api.client.post("/passwordless/start", json=sent)
        body_ = assert_error(r, status, error, description)
        assert api.creds.client_secret not in body_["error_description"]
    assert await api.inbox() == []


async def test_bad_numbers_and_fields_send_nothing(api: Api) -> None:
    await sms_connection(api)
    r = await api.client.post("/passwordless/start", json={**api.app_auth, "connection": "sms"})
    assert_error(r, 400, "bad.phone_number", "Missing required property: phone_number")
    for number in ("4155550123", "+1 555 0100", "+1415555012345678", "+1-800-FLOWERS", 14155550123):
        assert_error(await start(api, number), 400, "bad.phone_number")
    assert_error(await start(api, send="link"), 400, "bad.send", "SMS supports code only")
    r = await start(api, authParams="scope=openid")
    assert_error(
        r, 400, "bad.authParams", "error in authParams - invalid type: string (expected object)"
    )
    r = await start(api, email="a@example.com")
    assert_error(r, 400, "bad.request", "the following properties are not allowed: email")
    # A premium-rate number is refused before any provider is asked.
    r = await start(api, "+19005550123")
    assert r.status_code == 400 and "premium" in r.json()["error_description"], r.text
    assert await api.inbox() == []


async def test_wrong_expired_reused_and_superseded_codes(api: Api, clock: FrozenClock) -> None:
    await sms_connection(api, totp={"time_step": 60})
    code = await code_for(api)
    wrong = other_than(code)
    assert_error(await otp_grant(api, wrong), 403, "invalid_grant", WRONG)
    assert_error(await otp_grant(api, "not a code"), 403, "invalid_grant", WRONG)
    assert (await otp_grant(api, code)).status_code == 200  # the third attempt
    assert_error(await otp_grant(api, code), 403, "invalid_grant", WRONG)  # used

    first = await code_for(api)
    second = await code_for(api)
    assert_error(await otp_grant(api, first), 403, "invalid_grant", WRONG)  # superseded
    assert (await otp_grant(api, second)).status_code == 200

    code = await code_for(api)
    clock.advance(61)
    assert_error(await otp_grant(api, code), 403, "invalid_grant", WRONG)  # expired
    assert_error(await otp_grant(api, code, phone=OTHER_PHONE), 403, "invalid_grant", WRONG)


async def test_three_attempts_per_code(api: Api) -> None:
    await sms_connection(api)
    code = await code_for(api)
    wrong = other_than(code)
    for _ in range(3):
        assert_error(await otp_grant(api, wrong), 403, "invalid_grant", WRONG)
    assert_error(await otp_grant(api, code), 403, "invalid_grant", MAX_ATTEMPTS)
    assert (await otp_grant(api, await code_for(api))).status_code == 200


async def test_twenty_simultaneous_correct_codes_one_winner(api: Api) -> None:
    await sms_connection(api)
    code = await code_for(api)

    results = await asyncio.gather(*(otp_grant(api, code) for _ in range(20)))

    assert [r.status_code for r in results].count(200) == 1, [r.text for r in results]
    losers = [r for r in results if r.status_code != 200]
    assert all(r.status_code == 403 and r.json()["error"] == "invalid_grant" for r in losers)
    winner = next(r for r in results if r.status_code == 200)
    r = await api.mgmt("GET", f"/users/{subject(winner.json())}")
    assert r.status_code == 200 and r.json()["logins_count"] == 1, r.text


async def test_ip_limit_counts_every_start(api: Api, container: Container) -> None:
    await sms_connection(api)
    await set_limits(api, ip_passwordless_per_hour=3)
    assert (await start(api)).status_code == 200
    assert_error(await start(api, "bad"), 400, "bad.phone_number")
    assert (await start(api)).status_code == 200

    r = await start(api)
    assert_error(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) > 0 and r.headers["x-ratelimit-limit"] == "3"
    assert len(await api.inbox()) == 2
    [limited] = await events(container, "api_limit")
    assert limited.ip == "203.0.113.7" and limited.details["type"] == "ip_passwordless"


async def test_blocked_users_get_no_code_and_no_tokens(api: Api) -> None:
    await sms_connection(api)
    r = await otp_grant(api, await code_for(api))
    user_id = subject(r.json())
    pending = await code_for(api)
    r = await api.mgmt("PATCH", f"/users/{user_id}", json={"blocked": True})
    assert r.status_code == 200, r.text

    sent = len(await api.inbox())
    assert_error(await start(api), 401, "server_error", "user is blocked")
    assert len(await api.inbox()) == sent
    assert_error(await otp_grant(api, pending), 401, "unauthorized", "user is blocked")


async def test_wrong_code_budget_applies_once_the_user_exists(api: Api) -> None:
    await sms_connection(api)
    await set_limits(api, wrong_codes=2)
    code = await code_for(api)
    wrong = other_than(code)
    for _ in range(3):  # no user yet: only the code's own three attempts
        assert_error(await otp_grant(api, wrong), 403, "invalid_grant", WRONG)

    assert (await otp_grant(api, await code_for(api))).status_code == 200
    code = await code_for(api)
    wrong = other_than(code)
    for _ in range(2):
        assert_error(await otp_grant(api, wrong), 403, "invalid_grant", WRONG)
    r = await otp_grant(api, code)
    assert_error(
        r, 429, "too_many_attempts", "Too many failed codes. Wait for some minutes before retrying."
    )


async def test_a_disabled_tenant_phone_provider_fails_loudly(
    api: Api, container: Container
) -> None:
    await sms_connection(api)
    r = await api.mgmt(
        "POST",
        "/branding/phone/providers",
        json={
            "name": "vonage",
            "configuration": {
                "api_key": "abcd1234",
                "from": "Phonegate",
                "delivery_methods": ["text"],
            },
            "credentials": {"api_secret": "vonage-api-secret"},
        },
    )
    assert r.status_code == 201, r.text
    r = await api.mgmt(
        "PATCH", f"/branding/phone/providers/{r.json()['id']}", json={"disabled": True}
    )
    assert r.status_code == 200, r.text

    body = assert_error(await start(api), 400, "sms_provider_error")
    assert "tenant phone provider" in body["error_description"]
    assert "disabled" in body["error_description"]
    types = {e.type for e in await events(container)}
    assert {"gd_send_sms_failure", "pg_provider_misconfigured"} <= types
    assert await api.inbox() == []


async def test_the_mfa_policy_does_not_apply_and_failures_are_logged(
    api: Api, container: Container
) -> None:
    await api.enable_mfa()
    await sms_connection(api)
    assert_error(await otp_grant(api, "123456"), 403, "invalid_grant", WRONG)
    r = await otp_grant(api, await code_for(api))
    assert r.status_code == 200, r.text
    assert "access_token" in r.json()
    [failed] = await events(container, "fepotpft")
    assert failed.description == WRONG and failed.client_id == api.creds.client_id


async def test_a_hosted_verification_provider_is_refused_loudly(api: Api) -> None:
    await sms_connection(api)
    r = await api.mgmt(
        "POST",
        "/branding/phone/providers",
        json={
            "name": "twilio",
            "configuration": {
                "sid": "AC" + "0" * 32,
                "verify_service_sid": "VA" + "0" * 32,
                "verify_mode": "hosted",
                "delivery_methods": ["text"],
            },
            "credentials": {"auth_token": "verify-auth-token"},
        },
    )
    assert r.status_code == 201, r.text

    body = assert_error(await start(api), 400, "sms_provider_error")
    assert "hosted mode" in body["error_description"], body
    assert await api.inbox() == []


async def test_the_phone_scope_puts_the_number_in_the_id_token_and_userinfo(api: Api) -> None:
    await sms_connection(api)
    assert (await start(api)).status_code == 200
    r = await otp_grant(api, await api.last_code(PHONE), scope="openid phone")
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["scope"] == "openid phone"
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["phone_number"] == PHONE and claims["phone_verified"] is True
    assert "email" not in claims
    r = await api.client.get(
        "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["phone_number"] == PHONE
