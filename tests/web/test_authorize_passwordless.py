"""Passwordless SMS through Universal Login over HTTP (no browser): "Continue with phone"
on the login page or ``connection=sms`` at /authorize, the phone page, the code page, the
application's callback and the authorization_code grant, on SQLite and PostgreSQL.

Every step is a plain form POST answered by a 303 redirect, so this is exactly what a
browser without JavaScript does."""

from __future__ import annotations

import pytest

from phonegate.clock import FrozenClock
from phonegate.container import Container
from tests.conftest import Api
from tests.web.test_authorize import CALLBACK, Browser, claims_of, csrf_of, query
from tests.web.test_passwordless import events, other_than, sms_connection

PHONE, OTHER_PHONE = "+14155550123", "+14155550177"
PHONE_PAGE, CODE_PAGE = "/u/login-passwordless-sms", "/u/login-passwordless-sms-otp"
LINK = f'<a href="{PHONE_PAGE}">Continue with phone</a>'


@pytest.fixture
async def browser(api: Api) -> Browser:
    return Browser(api)


def national(number: str) -> str:
    digits = number.removeprefix("+1")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


async def open_phone_page(browser: Browser, **params: str) -> str:
    """/authorize, the login page's link, the phone page."""
    r = await browser.authorize(**params)
    assert (r.status_code, r.headers["location"]) == (303, "/u/login"), r.text
    assert LINK in await browser.page("/u/login")
    return await browser.page(PHONE_PAGE)


async def send_code(browser: Browser, number: str = PHONE) -> str:
    """Post the phone page; the code the sandbox received."""
    location = await browser.step(PHONE_PAGE, country="US", phone_number=national(number))
    assert location == CODE_PAGE
    return await browser.api.last_code(number)


async def test_first_login_signs_up_and_the_next_finds_the_user(
    api: Api, browser: Browser, container: Container
) -> None:
    await api.enable_mfa()  # the MFA policy does not apply to passwordless logins
    await sms_connection(api)
    page = await open_phone_page(browser, scope="openid profile phone offline_access")
    assert '<option value="US" selected>' in page and 'autocomplete="tel-national"' in page
    assert '<a href="/u/login">Log in with a password instead</a>' in page
    code = await send_code(browser)
    page = await browser.page(CODE_PAGE)
    assert "We&#39;ve sent a text message with a code to <bdi>XXXXXXXX0123</bdi>." in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert '<span data-wait="30">30</span>' in page
    assert " disabled" not in page  # without the script, resending is enforced by the server

    location = await browser.step(CODE_PAGE, code=code)
    assert location.startswith(CALLBACK + "?") and query(location)["state"] == browser.state
    r = await browser.exchange(location)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["scope"] == "openid profile phone offline_access" and tokens["refresh_token"]
    claims = claims_of(tokens["id_token"])
    assert claims["amr"] == ["sms"] and claims["nonce"] == browser.nonce
    assert claims["phone_number"] == PHONE and claims["phone_verified"] is True
    user_id = claims["sub"]
    assert user_id.startswith("sms|")
    shown = (await api.mgmt("GET", f"/users/{user_id}")).json()
    assert shown["logins_count"] == 1 and shown["identities"][0]["connection"] == "sms"
    r = await api.client.get(CODE_PAGE)  # the login is over, its cookie gone
    assert r.status_code == 400 and "login transaction expired" in r.text

    # Again, picking the connection at /authorize: no password page, the same user.
    again = Browser(api)
    r = await again.authorize(connection="sms", scope="openid")
    assert (r.status_code, r.headers["location"]) == (303, "/u/login")
    r = await api.client.get("/u/login")
    assert (r.status_code, r.headers["location"]) == (303, PHONE_PAGE)
    assert "Log in with a password instead" not in await again.page(PHONE_PAGE)
    location = await again.step(CODE_PAGE, code=await send_code(again))
    tokens = (await again.exchange(location)).json()
    claims = claims_of(tokens["id_token"])
    assert claims["sub"] == user_id and claims["amr"] == ["sms"] and "phone_number" not in claims
    assert (await api.mgmt("GET", f"/users/{user_id}")).json()["logins_count"] == 2
    logged = [e.type for e in await events(container) if e.user_id == user_id]
    assert logged.count("ss") == 1 and logged.count("s") == 2, logged


async def test_wrong_expired_and_too_many_codes(
    api: Api, browser: Browser, clock: FrozenClock
) -> None:
    await sms_connection(api, totp={"time_step": 60})
    await open_phone_page(browser)
    code = await send_code(browser)
    r = await browser.post(CODE_PAGE, code="12ab")  # refused before it costs an attempt
    assert r.status_code == 400 and "The code must have 6 digits." in r.text
    for _ in range(3):
        r = await browser.post(CODE_PAGE, code=other_than(code))
        assert r.status_code == 400
        error = 'id="code-error" class="error" role="alert">The code you entered is invalid.'
        assert error in r.text
        assert 'aria-describedby="code-error" aria-invalid="true"' in r.text
    r = await browser.post(CODE_PAGE, code=code)
    assert r.status_code == 400 and "You entered too many wrong codes." in r.text

    r = await browser.post(CODE_PAGE + "/resend")
    assert r.status_code == 429 and "Wait 30 seconds before asking for a new code." in r.text
    clock.advance(30)
    assert await browser.step(CODE_PAGE + "/resend") == CODE_PAGE
    code = await api.last_code(PHONE)
    clock.advance(61)
    r = await browser.post(CODE_PAGE, code=code)
    assert r.status_code == 400 and "This code has expired. Ask for a new code." in r.text

    assert await browser.step(CODE_PAGE + "/resend") == CODE_PAGE
    location = await browser.step(CODE_PAGE, code=await api.last_code(PHONE))
    assert (await browser.exchange(location)).status_code == 200


async def test_disabled_signup_refuses_new_numbers_only(api: Api, browser: Browser) -> None:
    connection = await sms_connection(api)
    await open_phone_page(browser)
    assert (await browser.step(CODE_PAGE, code=await send_code(browser))).startswith(CALLBACK)
    r = await api.mgmt(
        "PATCH", f"/connections/{connection['id']}", json={"options": {"disable_signup": True}}
    )
    assert r.status_code == 200, r.text

    newcomer = Browser(api)
    await open_phone_page(newcomer)
    r = await newcomer.post(PHONE_PAGE, country="US", phone_number=national(OTHER_PHONE))
    assert r.status_code == 400 and "new accounts can&#39;t be created here" in r.text
    assert f'value="{national(OTHER_PHONE)}"' in r.text  # the form keeps what was typed
    assert all(m["recipient"] != OTHER_PHONE for m in await api.inbox())
    returning = Browser(api)
    await open_phone_page(returning)
    assert (await returning.step(CODE_PAGE, code=await send_code(returning))).startswith(CALLBACK)


async def test_a_connection_not_enabled_for_the_application(api: Api, browser: Browser) -> None:
    await browser.authorize()
    assert LINK not in await browser.page("/u/login")  # no sms connection at all
    connection = await sms_connection(api)
    r = await api.mgmt("PATCH", f"/connections/{connection['id']}", json={"enabled_clients": []})
    assert r.status_code == 200, r.text

    login = await browser.page("/u/login")
    assert LINK not in login
    refused = "Logging in with a phone number is not available for this application."
    r = await api.client.get(PHONE_PAGE)
    assert r.status_code == 400 and refused in r.text
    fields = {"csrf": csrf_of(login), "country": "US", "phone_number": national(PHONE)}
    r = await api.client.post(PHONE_PAGE, data=fields)
    assert r.status_code == 400 and refused in r.text
    assert await api.inbox() == []
    for name, description in (
        ("sms", "Connection is disabled"),
        ("nope", "Connection does not exist"),
    ):
        r = await browser.authorize(connection=name)
        assert r.headers["location"].startswith(CALLBACK + "?"), r.headers
        got = query(r.headers["location"])
        assert (got["error"], got["error_description"]) == ("invalid_request", description)
        assert got["state"] == browser.state


async def test_forms_need_the_transactions_csrf_token(api: Api, browser: Browser) -> None:
    await sms_connection(api)
    await open_phone_page(browser)
    for token in ({}, {"csrf": "forged"}):
        r = await api.client.post(
            PHONE_PAGE, data={"country": "US", "phone_number": national(PHONE), **token}
        )
        assert r.status_code == 403 and "did not come from this page" in r.text
    assert await api.inbox() == []
    code = await send_code(browser)
    for path in (CODE_PAGE, CODE_PAGE + "/resend"):
        r = await api.client.post(path, data={"code": code, "csrf": "forged"})
        assert r.status_code == 403, r.text
    assert len(await api.inbox()) == 1
    assert (await browser.step(CODE_PAGE, code=code)).startswith(CALLBACK)


async def test_refusals_of_the_start_are_page_errors(api: Api, browser: Browser) -> None:
    await sms_connection(api)
    r = await api.mgmt(
        "PATCH", "/attack-protection/phone-limits", json={"ip_passwordless_per_hour": 3}
    )
    assert r.status_code == 200, r.text
    await open_phone_page(browser)
    r = await browser.post(PHONE_PAGE, country="US", phone_number="12")
    assert r.status_code == 400
    assert "Enter a valid phone number for the selected country." in r.text
    location = await browser.step(CODE_PAGE, code=await send_code(browser))
    user_id = claims_of((await browser.exchange(location)).json()["id_token"])["sub"]
    r = await api.mgmt("PATCH", f"/users/{user_id}", json={"blocked": True})
    assert r.status_code == 200, r.text

    blocked = Browser(api)
    await open_phone_page(blocked)
    r = await blocked.post(PHONE_PAGE, country="US", phone_number=national(PHONE))
    assert r.status_code == 400 and "This account is blocked." in r.text
    # The fourth start from this address: every start counts, refused ones too.
    r = await blocked.post(PHONE_PAGE, country="US", phone_number=national(OTHER_PHONE))
    assert r.status_code == 429 and "Too many requests from your network." in r.text
    assert len(await api.inbox()) == 1


async def test_a_disabled_phone_provider_is_a_page_error(api: Api, browser: Browser) -> None:
    await sms_connection(api)
    r = await api.mgmt(
        "POST",
        "/branding/phone/providers",
        json={
            "name": "vonage",
            "configuration": {"api_key": "abcd1234", "from": "Phonegate"}
            | {"delivery_methods": ["text"]},
            "credentials": {"api_secret": "vonage-api-secret"},
        },
    )
    assert r.status_code == 201, r.text
    provider = r.json()["id"]
    r = await api.mgmt("PATCH", f"/branding/phone/providers/{provider}", json={"disabled": True})
    assert r.status_code == 200, r.text
    await open_phone_page(browser)
    r = await browser.post(PHONE_PAGE, country="US", phone_number=national(PHONE))
    assert r.status_code == 400 and "We couldn&#39;t send the code." in r.text
    assert "vonage-api-secret" not in r.text
    assert await api.inbox() == []


async def test_pages_and_the_message_share_the_language(api: Api, browser: Browser) -> None:
    await sms_connection(api)
    await browser.authorize(ui_locales="fr-CA", connection="sms")
    page = await browser.page(PHONE_PAGE)
    assert '<html lang="fr" dir="ltr">' in page and "Connectez-vous avec votre téléphone" in page
    assert '<option value="CA" selected>' in page  # the country from the language tag
    location = await browser.step(PHONE_PAGE, country="US", phone_number=national(PHONE))
    page = await browser.page(location)
    assert "Saisissez le code à 6 chiffres" in page
    [sent] = await api.inbox()
    assert sent["text"] == f"{sent['code']} est votre code de vérification pour phonegate"
