"""Universal Login over HTTP (no browser): /authorize, the /u/ pages posted by hand, the
authorization_code and refresh_token grants, and /v2/logout, on SQLite and PostgreSQL.

Every step is a plain form POST answered by a 303 redirect (POST/redirect/GET), so the
flow below is exactly what a browser without JavaScript does."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from phonegate.bootstrap import DEMO_URLS
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.models import Application
from phonegate.domain.texts import SUPPORTED_LOCALES
from tests.conftest import Api

CALLBACK = DEMO_URLS["callbacks"][0]
LOGOUT_URL = DEMO_URLS["allowed_logout_urls"][0]
EMAIL, PASSWORD, PHONE = "alice@example.com", "correct horse 1", "+14155550123"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Browser:
    """A browser without JavaScript: follows redirects by hand and posts the forms."""

    api: Api
    verifier: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    async def authorize(self, **params: str) -> httpx.Response:
        self.verifier, challenge = pkce()
        query_params = {
            "response_type": "code",
            "client_id": self.api.creds.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email offline_access",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **params,
        }
        return await self.client.get("/authorize", params=query_params)

    async def page(self, path: str, **headers: str) -> str:
        r = await self.client.get(path, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        return r.text

    async def post(self, path: str, **fields: str) -> httpx.Response:
        csrf = csrf_of(await self.page(path.removesuffix("/resend")))
        return await self.client.post(path, data={"csrf": csrf, **fields})

    async def step(self, path: str, **fields: str) -> str:
        """Post a form; the 303 location it answers."""
        r = await self.post(path, **fields)
        assert r.status_code == 303, r.text
        location: str = r.headers["location"]
        return location

    async def sign_in(self, email: str = EMAIL, password: str = PASSWORD, **params: str) -> str:
        r = await self.authorize(**params)
        assert (r.status_code, r.headers["location"]) == (303, "/u/login"), r.text
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        return await self.step("/u/login", username=email, password=password)

    async def exchange(self, location: str, **overrides: str) -> httpx.Response:
        got = query(location)
        assert got["state"] == self.state, got
        return await self.client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": got["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": self.verifier,
                **self.api.app_auth,
                **overrides,
            },
        )

    async def enroll(self, phone: str = "415 555 0123", channel: str = "sms") -> str:
        """Enroll by SMS; the recovery code shown once. Ends at the callback's location."""
        location = await self.step(
            "/u/mfa-phone-enrollment", country="US", phone_number=phone, channel=channel
        )
        assert location == "/u/mfa-phone-challenge"
        page = await self.page(location)
        assert "XXXXXXXX0123" in page
        location = await self.step(location, code=await self.api.last_code(PHONE))
        assert location == "/u/mfa-recovery-code-shown"
        shown = await self.page(location)
        recovery = re.search(r"<code>([A-Z0-9]{24})</code>", shown)
        assert recovery, shown
        return recovery.group(1)


@pytest.fixture
async def browser(api: Api) -> Browser:
    return Browser(api)


async def mfa_user(api: Api, message_types: list[str] | None = None) -> str:
    await api.enable_mfa(message_types)
    return await api.create_user()


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


# --- the whole flow ------------------------------------------------------------------------


async def test_enroll_by_sms_then_tokens_refresh_and_userinfo(api: Api, browser: Browser) -> None:
    user_id = await mfa_user(api)
    assert await browser.sign_in() == "/u/mfa-phone-enrollment"
    page = await browser.page("/u/mfa-phone-enrollment", **{"accept-language": "en-GB"})
    assert re.search(r'<option value="GB" selected>United Kingdom \(\+44\)</option>', page)
    recovery = await browser.enroll()
    assert len(recovery) == 24
    location = await browser.step("/u/mfa-recovery-code-shown", confirm="yes")
    assert location.startswith(CALLBACK + "?")
    r = await browser.exchange(location)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["scope"] == "openid profile email offline_access"
    claims = claims_of(tokens["id_token"])
    assert claims["sub"] == user_id and claims["aud"] == api.creds.client_id
    assert claims["nonce"] == browser.nonce and claims["amr"] == ["pwd", "mfa"]
    assert isinstance(claims["auth_time"], int)
    r = await api.client.get(
        "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert r.status_code == 200 and r.json()["email"] == EMAIL, r.text

    # The first recovery code was confirmed with the phone: it works at the MFA API.
    r = await api.recovery_grant(await api.mfa_token(), recovery)
    assert r.status_code == 200, r.text

    first = tokens["refresh_token"]
    r = await refresh(api, first)
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first and claims_of(r.json()["id_token"])["amr"] == ["pwd", "mfa"]
    # The spent token comes back: refused, and the family (the new token too) is revoked.
    r = await refresh(api, first)
    assert r.status_code == 403 and r.json()["error"] == "invalid_grant", r.text
    r = await refresh(api, second)
    assert r.status_code == 403 and r.json()["error"] == "invalid_grant", r.text


async def test_code_and_refresh_exchanges_and_logout_are_logged(
    api: Api, browser: Browser, container: Container
) -> None:
    location = await browser.sign_in("demo@example.com", api.creds.password)
    tokens = (await browser.exchange(location)).json()
    assert (await refresh(api, tokens["refresh_token"])).status_code == 200
    assert (await browser.exchange(location)).status_code == 403  # reused: a failure event
    await api.client.get("/v2/logout", params={"client_id": api.creds.client_id})
    tenant = await tenant_id(container)
    async with container.unit_of_work() as uow:
        logged = [e.type for e in await uow.events.list(tenant, limit=100)]
    for code in ("seacft", "feacft", "sertft", "slo"):
        assert code in logged, (code, logged)


async def refresh(api: Api, token: str, **extra: str) -> httpx.Response:
    return await api.client.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": token, **api.app_auth, **extra},
    )


async def test_refresh_scope_may_narrow_never_widen(api: Api, browser: Browser) -> None:
    location = await browser.sign_in("demo@example.com", api.creds.password)
    tokens = (await browser.exchange(location)).json()
    assert claims_of(tokens["id_token"])["amr"] == ["pwd"]
    r = await refresh(api, tokens["refresh_token"], scope="openid offline_access")
    assert r.status_code == 200 and r.json()["scope"] == "openid offline_access", r.text
    # The rotated token keeps the original scope, never a wider one.
    r = await refresh(api, r.json()["refresh_token"], scope="openid profile email enroll")
    assert r.status_code == 403 and r.json()["error"] == "invalid_scope", r.text


async def test_enrolled_user_gets_a_challenge_and_a_wrong_code_is_explained(
    api: Api, browser: Browser
) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    location = await browser.sign_in()
    assert location == "/u/mfa-phone-challenge"
    code = await api.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    r = await browser.post(location, code=wrong)
    assert r.status_code == 400
    assert 'id="code-error" class="error" role="alert">The code you entered is invalid.' in r.text
    assert 'aria-describedby="code-error" aria-invalid="true"' in r.text
    r = await browser.post(location, code="12ab")
    assert r.status_code == 400 and "The code must have 6 digits." in r.text
    location = await browser.step(location, code=code)
    tokens = (await browser.exchange(location)).json()
    assert claims_of(tokens["id_token"])["amr"] == ["pwd", "mfa"]


async def test_recovery_code_path_shows_the_new_code_once(api: Api, browser: Browser) -> None:
    await api.enable_mfa()
    old = (await api.enrolled_user())["recovery_code"]
    await browser.sign_in()
    r = await browser.post("/u/mfa-recovery-code", recovery_code="A" * 24)
    assert r.status_code == 400 and "The recovery code you entered is invalid." in r.text
    location = await browser.step("/u/mfa-recovery-code", recovery_code=old.lower())
    assert location == "/u/mfa-recovery-code-shown"
    page = await browser.page(location)
    fresh = re.search(r"<code>([A-Z0-9]{24})</code>", page)
    assert fresh and fresh.group(1) != old
    r = await browser.post(location)  # the box was not ticked
    assert r.status_code == 400 and 'id="confirm-error"' in r.text
    location = await browser.step(location, confirm="yes")
    assert (await browser.exchange(location)).status_code == 200
    # The old code died; the new one is the user's recovery code now.
    assert (await api.recovery_grant(await api.mfa_token(), old)).status_code == 403
    assert (await api.recovery_grant(await api.mfa_token(), fresh.group(1))).status_code == 200


async def test_resend_waits_and_a_call_can_replace_the_text(
    api: Api, browser: Browser, clock: FrozenClock
) -> None:
    await api.enable_mfa(["sms", "voice"])
    await api.enrolled_user()
    await browser.sign_in()
    page = await browser.page("/u/mfa-phone-challenge")
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert 'pattern="[0-9]*"' in page and "Get a call instead" in page
    assert '<span data-wait="30">30</span>' in page
    r = await browser.post("/u/mfa-phone-challenge/resend", channel="sms")
    assert r.status_code == 429 and "Wait 30 seconds before asking for a new code." in r.text
    clock.advance(30)
    assert await browser.step("/u/mfa-phone-challenge/resend", channel="sms")
    assert await browser.step("/u/mfa-phone-challenge/resend", channel="voice")
    latest = (await api.inbox())[0]
    assert latest["channel"] == "voice"
    page = await browser.page("/u/mfa-phone-challenge")
    assert "calling" in page and "Send a text instead" in page
    location = await browser.step("/u/mfa-phone-challenge", code=latest["code"])
    assert (await browser.exchange(location)).status_code == 200


async def test_rate_limited_send_shows_auth0s_text(api: Api, browser: Browser) -> None:
    await api.enable_mfa()
    r = await api.mgmt(
        "PATCH", "/attack-protection/phone-limits", json={"user_messages_per_hour": 1}
    )
    assert r.status_code == 200, r.text
    await api.enrolled_user()  # the one message of the hour
    assert await browser.sign_in() == "/u/mfa-phone-challenge"
    page = await browser.page("/u/mfa-phone-challenge")
    assert "You have exceeded the amount of SMSs per hour." in page
    assert "We couldn&#39;t send a code to" in page


# --- refusals ------------------------------------------------------------------------------


async def test_codes_are_single_use_bound_to_client_redirect_uri_and_verifier(
    api: Api, browser: Browser, container: Container
) -> None:
    other = await add_app(container, api, "spa", "none")
    location = await browser.sign_in("demo@example.com", api.creds.password)
    r = await api.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": other.client_id,
            "code": query(location)["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": browser.verifier,
        },
    )
    assert r.status_code == 403 and r.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }
    for overrides, description in (
        ({"redirect_uri": "http://127.0.0.1:8081/elsewhere"}, "redirect_uri does not match"),
        ({"code_verifier": pkce()[0]}, "Failed to verify code verifier"),
        ({"code_verifier": "short"}, "Failed to verify code verifier"),
    ):
        r = await browser.exchange(location, **overrides)
        assert r.status_code == 403 and r.json()["error"] == "invalid_grant", r.text
        assert description in r.json()["error_description"]
    # None of the refused attempts spent the code.
    first = await browser.exchange(location)
    assert first.status_code == 200, first.text
    again = await browser.exchange(location)
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"
    # The replayed code revoked the refresh token its first exchange issued.
    r = await refresh(api, first.json()["refresh_token"])
    assert r.status_code == 403, r.text


async def test_a_code_lives_sixty_seconds(api: Api, browser: Browser, clock: FrozenClock) -> None:
    location = await browser.sign_in("demo@example.com", api.creds.password)
    clock.advance(61)
    r = await browser.exchange(location)
    assert r.status_code == 403 and r.json()["error"] == "invalid_grant"


async def add_app(container: Container, api: Api, app_type: str, method: str) -> Application:
    app = Application(
        tenant_id=await tenant_id(container),
        client_id=secrets.token_hex(16),
        name=f"{app_type} app",
        secret_hash="",
        secret_key_id="sha256",
        grant_types=["authorization_code", "refresh_token"],
        client_grants={},
        metadata={},
        app_type=app_type,
        created_at=container.clock.now(),
        callbacks=["http://127.0.0.1:9999/cb"],
        token_endpoint_auth_method=method,
    )
    async with container.unit_of_work() as uow:
        await uow.applications.add(app)
    return app


async def tenant_id(container: Container) -> str:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.get_by_name("default")
    assert tenant is not None
    return tenant.id


async def test_public_clients_must_use_s256(api: Api, container: Container) -> None:
    spa = await add_app(container, api, "spa", "none")
    base = {
        "response_type": "code",
        "client_id": spa.client_id,
        "redirect_uri": "http://127.0.0.1:9999/cb",
        "state": "s1",
    }
    r = await api.client.get("/authorize", params=base)
    got = query(r.headers["location"])
    assert r.status_code == 303 and got["error"] == "invalid_request" and got["state"] == "s1"
    assert "PKCE" in got["error_description"]
    plain = {**base, "code_challenge": "x" * 43, "code_challenge_method": "plain"}
    got = query((await api.client.get("/authorize", params=plain)).headers["location"])
    assert (
        got["error"] == "invalid_request" and "plain is not supported" in got["error_description"]
    )
    ok = {**base, "code_challenge": pkce()[1], "code_challenge_method": "S256"}
    r = await api.client.get("/authorize", params=ok)
    assert r.headers["location"] == "/u/login"


async def test_authorize_refusals_never_redirect_to_an_unregistered_uri(
    api: Api, browser: Browser
) -> None:
    for params in ({"redirect_uri": "https://evil.example/cb"}, {"client_id": "nobody"}):
        r = await browser.authorize(**params)
        assert r.status_code == 400 and "location" not in r.headers, r.text
        assert "<h1>Something went wrong</h1>" in r.text
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
    for params, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
        ({"audience": "https://elsewhere.example/"}, "access_denied"),
    ):
        r = await browser.authorize(**params)
        got = query(r.headers["location"])
        assert r.headers["location"].startswith(CALLBACK + "?"), r.headers
        assert (got["error"], got["state"]) == (error, browser.state)


async def test_forms_need_the_transactions_csrf_token(api: Api, browser: Browser) -> None:
    await browser.authorize()
    await browser.page("/u/login")
    for token in ({}, {"csrf": "forged"}):
        r = await api.client.post(
            "/u/login", data={"username": EMAIL, "password": PASSWORD, **token}
        )
        assert r.status_code == 403 and "did not come from this page" in r.text
    api.client.cookies.clear()
    r = await api.client.get("/u/login")
    assert r.status_code == 400 and "login transaction expired" in r.text


async def test_wrong_password_and_pages_out_of_order(api: Api, browser: Browser) -> None:
    await mfa_user(api)
    await browser.authorize()
    r = await browser.post("/u/login", username=EMAIL, password="wrong password")
    assert r.status_code == 400 and "Wrong email or password." in r.text
    assert f'value="{EMAIL}"' in r.text and 'aria-describedby="form-error"' in r.text
    # A later page before its step sends the browser back to where the login is.
    r = await api.client.get("/u/mfa-phone-challenge")
    assert (r.status_code, r.headers["location"]) == (303, "/u/login")
    location = await browser.step("/u/login", username=EMAIL, password=PASSWORD)
    r = await browser.post(location, country="US", phone_number="12", channel="sms")
    assert r.status_code == 400
    assert "Enter a valid phone number for the selected country." in r.text


async def test_phone_number_as_identifier(api: Api, browser: Browser, container: Container) -> None:
    user_id = await api.create_user()
    tenant = await tenant_id(container)
    async with container.unit_of_work() as uow:
        user = await uow.users.get(tenant, user_id)
        assert user is not None
        user.phone_number, user.phone_verified = "+447400123456", True
        await uow.users.update(user)
    location = await browser.sign_in("+44 7400 123456", PASSWORD)
    tokens = (await browser.exchange(location)).json()
    assert claims_of(tokens["id_token"])["sub"] == user_id


async def test_logout_returns_only_to_allowed_urls(api: Api, browser: Browser) -> None:
    await browser.authorize()
    params = {"client_id": api.creds.client_id, "returnTo": LOGOUT_URL}
    r = await api.client.get("/v2/logout", params=params)
    assert (r.status_code, r.headers["location"]) == (303, LOGOUT_URL)
    assert 'phonegate_login=""' in r.headers["set-cookie"]
    assert (await api.client.get("/u/login")).status_code == 400  # the transaction is gone
    for bad in ({**params, "returnTo": "https://evil.example/"}, {"returnTo": LOGOUT_URL}):
        r = await api.client.get("/v2/logout", params=bad)
        assert r.status_code == 400 and "location" not in r.headers
    r = await api.client.get("/v2/logout")
    assert r.status_code == 200 and "You have been logged out." in r.text


# --- languages and discovery ---------------------------------------------------------------


async def test_pages_and_messages_share_the_language(api: Api, browser: Browser) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    await browser.sign_in(ui_locales="fr-CA")
    page = await browser.page("/u/mfa-phone-challenge")
    assert '<html lang="fr" dir="ltr">' in page and "Saisissez le code à 6 chiffres" in page
    sent = (await api.inbox())[0]
    assert sent["text"] == f"{sent['code']} est votre code de vérification pour phonegate"
    other = Browser(api)
    await other.authorize()
    page = await other.page("/u/login", **{"accept-language": "ar-EG,ar;q=0.9"})
    assert '<html lang="ar" dir="rtl">' in page and "تسجيل الدخول" in page


def test_every_locale_has_every_page_string() -> None:
    from phonegate.web.login.i18n import catalog

    english = set(catalog("en"))
    for locale in SUPPORTED_LOCALES:
        assert set(catalog(locale)) == english, locale
        assert all(catalog(locale).values()), locale


async def test_discovery_names_the_flow(api: Api) -> None:
    config = (await api.client.get("/.well-known/openid-configuration")).json()
    base = "http://phonegate.test/"
    assert config["authorization_endpoint"] == base + "authorize"
    assert config["end_session_endpoint"] == base + "v2/logout"
    assert config["userinfo_endpoint"] == base + "userinfo"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(config["grant_types_supported"])


def test_escaping_of_page_strings() -> None:
    from phonegate.web.login.i18n import Translator

    text = Translator("en")("login.intro", app="<b>x</b>")
    assert (
        "&lt;b&gt;x&lt;/b&gt;" in text and html.unescape(text) == "Log in to <b>x</b> to continue."
    )
