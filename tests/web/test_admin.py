"""The operator dashboard (``/admin``) over httpx, without a browser: its own sign-in (wrong
passwords limited per account and per IP, idle expiry, sign-out everywhere), CSRF and
clickjacking protection, every page for a signed-in admin and none without, each form
reaching the Management API, write-only secrets, the template preview (and its API), user
search by email (and ``/api/v2/users-by-email``), and the ``phonegate admin create`` command."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from phonegate.bootstrap import Credentials, bootstrap
from phonegate.cli import app as cli
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain import admins
from phonegate.settings import Settings
from phonegate.web.admin.session import IDLE_SECONDS
from phonegate.web.app import create_app
from tests.conftest import BASE_URL, Api, make_settings
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

HOME = "/admin/mfa/phone-message"
FROM = "+15005550006"  # Twilio's magic "valid sender"
TO = "+14155550123"
SECRET_VALUE = "carrier-key-5b9e0c1d7a"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The Twilio fake listens on 127.0.0.1, which the outbound guard refuses by default.
    return make_settings(database_url, tmp_path, outbound_allow_private=True)


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake
        assert fake.spec_errors == []


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found[1]


def text_of(r: httpx.Response) -> str:
    """The page's text as a reader gets it (entities decoded)."""
    return unescape(r.text)


class Dashboard:
    """A browser's worth of dashboard: its cookies, and forms posted with their token."""

    def __init__(self, client: httpx.AsyncClient, creds: Credentials) -> None:
        self.client = client
        self.creds = creds
        self.token = ""

    async def sign_in(
        self, email: str | None = None, password: str | None = None, next: str = HOME
    ) -> httpx.Response:
        self.client.cookies.delete("phonegate_admin", path="/admin")  # a fresh sign-in
        form = await self.client.get("/admin/login", params={"next": next})
        assert form.status_code == 200, form.text
        r = await self.client.post(
            "/admin/login",
            data={
                "csrf": csrf_of(form.text),
                "email": self.creds.admin_email if email is None else email,
                "password": self.creds.admin_password if password is None else password,
                "next": next,
            },
        )
        if r.status_code == 303:
            home = await self.get(HOME)
            assert home.status_code == 200, home.text
            self.token = csrf_of(home.text)
        return r

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(path, params=params or None)

    async def page(self, path: str, **params: str) -> str:
        r = await self.get(path, **params)
        assert r.status_code == 200, r.text
        return text_of(r)

    async def submit(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf": self.token, **(data or {})})

    async def done(self, path: str, data: dict[str, Any] | None = None) -> str:
        """Post a form that must succeed; the page it leads to, with its notice."""
        r = await self.submit(path, data)
        assert r.status_code == 303, r.text
        return await self.page(r.headers["location"])


@pytest.fixture
async def dash(client: httpx.AsyncClient, creds: Credentials) -> Dashboard:
    board = Dashboard(client, creds)
    assert (await board.sign_in()).status_code == 303
    return board


@pytest.fixture
async def other_ip(container: Container, creds: Credentials) -> AsyncIterator[Dashboard]:
    """A second browser, on another IP address."""
    transport = httpx.ASGITransport(
        app=create_app(container, background=False), client=("198.51.100.20", 4242)
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Dashboard(client, creds)


async def ok(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    r = await api.mgmt(method, path, **kwargs)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


# -- signing in -----------------------------------------------------------------------------


async def test_sign_in_refuses_a_wrong_password_and_then_opens_the_page_asked_for(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    board = Dashboard(client, creds)
    r = await board.get("/admin/logs")
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/admin/logs"
    r = await board.sign_in(password="not the password", next="/admin/logs")
    assert r.status_code == 400 and "Wrong email or password." in r.text
    assert "phonegate_admin=" not in r.headers.get("set-cookie", "")
    r = await board.sign_in(email="nobody@example.com")
    assert r.status_code == 400 and "Wrong email or password." in r.text
    r = await board.sign_in(email=creds.admin_email.upper(), next="/admin/logs")
    assert r.status_code == 303 and r.headers["location"] == "/admin/logs"
    # Another site cannot be where a sign-in leads.
    r = await board.get("/admin/login", next="//evil.example/admin")
    assert r.status_code == 303 and r.headers["location"] == HOME


async def test_wrong_passwords_are_limited_per_account_and_per_ip(
    client: httpx.AsyncClient, creds: Credentials, other_ip: Dashboard, clock: FrozenClock
) -> None:
    board = Dashboard(client, creds)
    for _ in range(admins.ACCOUNT_FAILURES):
        assert (await board.sign_in(password="wrong password!")).status_code == 400
    refused = await board.sign_in()  # the right password, but the account's bucket is empty
    assert refused.status_code == 429, refused.text
    assert "Too many failed sign-ins. Try again in 5 minutes." in refused.text
    assert refused.headers["retry-after"] == str(admins.ACCOUNT_REFILL_SECONDS)
    assert (await other_ip.sign_in()).status_code == 429  # per account, whatever the IP
    clock.advance(admins.ACCOUNT_REFILL_SECONDS)
    assert (await board.sign_in()).status_code == 303  # one attempt came back: it was right

    # Per IP, whatever the account: guesses at many emails from one address.
    for n in range(admins.IP_FAILURES):
        assert (await other_ip.sign_in(email=f"guess{n}@example.com")).status_code == 400
    assert (await other_ip.sign_in()).status_code == 429
    assert (await board.sign_in()).status_code == 303  # the first IP is not affected


async def test_a_session_ends_after_idle_hours_and_after_a_day(
    dash: Dashboard, clock: FrozenClock
) -> None:
    for _ in range(3):  # each page renews the idle time: 21 hours of use
        clock.advance(IDLE_SECONDS - 3600)
        assert (await dash.get(HOME)).status_code == 200
    clock.advance(IDLE_SECONDS - 3600)  # 28 hours after signing in
    r = await dash.get(HOME)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")

    assert (await dash.sign_in()).status_code == 303
    clock.advance(IDLE_SECONDS)
    r = await dash.get("/admin/users")
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/admin/users"


async def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    dash: Dashboard, other_ip: Dashboard
) -> None:
    copied = dash.client.cookies["phonegate_admin"]
    r = await dash.submit("/admin/logout")
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?signed_out=1"
    assert "You are signed out." in await dash.page(r.headers["location"])
    assert (await dash.get(HOME)).status_code == 303
    other_ip.client.cookies.set("phonegate_admin", copied, path="/admin")
    assert (await other_ip.get(HOME)).status_code == 303


# -- CSRF and clickjacking ------------------------------------------------------------------


async def test_forms_without_the_page_token_are_refused(
    dash: Dashboard, api: Api, client: httpx.AsyncClient
) -> None:
    types = {"message_types": "sms,voice"}
    r = await client.post(f"{HOME}/message-types", data=types)
    assert r.status_code == 403 and "did not come from this dashboard" in r.text
    r = await client.post(f"{HOME}/message-types", data={**types, "csrf": "0" * 64})
    assert r.status_code == 403
    assert (await ok(api, "GET", "/guardian/factors/phone/message-types")) == {
        "message_types": ["sms"]
    }
    # The sign-in form needs the token of its own cookie too.
    client.cookies.delete("phonegate_admin_signin", path="/admin")
    r = await client.post("/admin/login", data={"email": "a@example.com", "password": "x"})
    assert r.status_code == 403


async def test_pages_cannot_be_framed_and_cookies_stay_with_the_dashboard(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    board = Dashboard(client, creds)
    login = await board.get("/admin/login")
    signed = await board.sign_in()
    for r in (login, signed, await board.get(HOME)):
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
    cookie = signed.headers["set-cookie"].lower()
    assert all(part in cookie for part in ("httponly", "samesite=strict", "path=/admin")), cookie
    assert f"max-age={IDLE_SECONDS}" in cookie


# -- every page -----------------------------------------------------------------------------


async def test_every_page_renders_for_an_admin_and_sends_anyone_else_to_sign_in(
    dash: Dashboard, api: Api, other_ip: Dashboard
) -> None:
    await api.enable_mfa()
    user = await api.enrolled_user("bob@example.com", TO)
    action = await ok(
        api,
        "POST",
        "/actions/actions",
        json={
            "name": "sender",
            "supported_triggers": [{"id": "send-phone-message", "version": "v2"}],
            "code": "tests.web.action_targets:record",
        },
    )
    await ok(api, "POST", "/branding/phone/providers", json={"name": "custom"})
    log_id = (await ok(api, "GET", "/logs"))[0]["log_id"]
    user_path = quote(user["user_id"], safe="")
    pages = [
        HOME,
        "/admin/branding/phone-provider",
        "/admin/branding/phone-provider?name=vonage",
        "/admin/branding/phone-provider/delete",
        "/admin/actions",
        f"/admin/actions/{action['id']}",
        "/admin/logs",
        f"/admin/logs/{log_id}",
        "/admin/users",
        "/admin/users?q=bob@example.com",
        f"/admin/users/{user_path}",
        f"/admin/users/{user_path}/reset-mfa",
        "/admin/sandbox",
    ]
    for path in pages:
        r = await dash.get(path)
        assert r.status_code == 200, (path, r.text)
        assert (
            '<nav class="sidebar" aria-label="Dashboard">' in r.text and '<main id="main"' in r.text
        )
        anonymous = await other_ip.get(path)
        assert anonymous.status_code == 303, path
        assert anonymous.headers["location"].startswith("/admin/login?next=/admin/")
    assert (await dash.get("/admin")).headers["location"] == HOME
    r = await dash.get("/admin/users/auth0%7Cnobody")
    assert r.status_code == 404 and "The user does not exist." in r.text


# -- Security > Multi-factor Auth > Phone Message -------------------------------------------


async def test_phone_message_forms_reach_the_guardian_api(dash: Dashboard, api: Api) -> None:
    page = await dash.done(f"{HOME}/factors", {"sms_enabled": "on", "recovery_enabled": "on"})
    assert "Saved the phone factor." in page
    factors = {f["name"]: f["enabled"] for f in await ok(api, "GET", "/guardian/factors")}
    assert factors["sms"] and factors["recovery-code"]

    # Voice through the auth0 evaluation provider is refused, next to its form.
    await dash.done(f"{HOME}/provider", {"provider": "auth0"})
    r = await dash.submit(f"{HOME}/message-types", {"message_types": "sms,voice"})
    assert r.status_code == 400
    assert 'id="message-types-error" class="alert" role="alert"' in r.text
    assert "The auth0 evaluation provider cannot send voice messages" in text_of(r)

    page = await dash.done(f"{HOME}/provider", {"provider": "sandbox"})
    assert "The delivery provider is now sandbox." in page
    page = await dash.done(f"{HOME}/message-types", {"message_types": "sms,voice"})
    assert "Saved the message delivery method." in page
    assert (await ok(api, "GET", "/guardian/factors/phone/message-types")) == {
        "message_types": ["sms", "voice"]
    }
    assert (await ok(api, "GET", "/guardian/factors/phone/selected-provider")) == {
        "provider": "sandbox"
    }

    await dash.done(f"{HOME}/factors", {})  # both boxes left unticked
    factors = {f["name"]: f["enabled"] for f in await ok(api, "GET", "/guardian/factors")}
    assert not factors["sms"] and not factors["recovery-code"]


async def test_the_twilio_token_is_write_only_on_the_phone_message_page(
    dash: Dashboard, api: Api
) -> None:
    r = await dash.submit(f"{HOME}/twilio", {"sid": ACCOUNT_SID})
    assert r.status_code == 400 and "Twilio needs" in text_of(r)
    assert ACCOUNT_SID in r.text  # what was typed stays in the form
    body = {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": FROM}
    page = await dash.done(f"{HOME}/twilio", body)
    assert "Saved the Twilio settings." in page and AUTH_TOKEN not in page
    assert "Set: leave empty to keep it." in page
    # An empty field keeps the stored value.
    await dash.done(f"{HOME}/twilio", {"sid": "", "auth_token": "", "from": "+15005550007"})
    twilio = await ok(api, "GET", "/guardian/factors/phone/providers/twilio")
    assert (twilio["sid"], twilio["from"], twilio["auth_token_set"]) == (
        ACCOUNT_SID,
        "+15005550007",
        True,
    )
    assert AUTH_TOKEN not in await dash.page(HOME)


async def test_templates_are_saved_with_their_segment_counts(dash: Dashboard, api: Api) -> None:
    texts = {
        "enrollment_message": "{{code}} enrolls you at {{tenant.friendly_name}}",
        "verification_message": "{{code}} est votre code 🔐",
    }
    page = await dash.done(f"{HOME}/templates", {**texts, "action": "save"})
    assert "Saved the templates." in page
    assert "Enrollment SMS: GSM-7, 1 segment, 31 characters" in page
    assert "Verification SMS: UCS-2, 1 segment, 24 characters" in page
    assert (await ok(api, "GET", "/guardian/factors/phone/templates")) == texts

    r = await dash.submit(
        f"{HOME}/templates",
        {**texts, "verification_message": "no code here", "action": "save"},
    )
    assert r.status_code == 400
    assert "the message must contain the code: use {{ code }}" in text_of(r)
    assert "no code here" in r.text  # the text typed is kept for fixing


async def test_preview_renders_each_language_and_channel_through_the_server(
    dash: Dashboard, api: Api
) -> None:
    defaults = await ok(api, "GET", "/guardian/factors/phone/templates")
    preview = {**defaults, "action": "preview", "preview_channel": "sms"}
    # Auth0's default text: each user gets the built-in text of their language.
    r = await dash.submit(f"{HOME}/templates", {**preview, "preview_locale": "fr"})
    assert r.status_code == 200
    page = text_of(r)
    assert "924681 est votre code de vérification pour phonegate" in page
    assert "GSM-7, 1 segment" in page and "text: built-in (fr)" in page
    page = text_of(await dash.submit(f"{HOME}/templates", {**preview, "preview_locale": "ja"}))
    assert "phonegateの確認コードは 924681 です" in page and "UCS-2, 1 segment" in page

    # A custom text, unsaved, in a call: the code is read digit by digit.
    custom = {**preview, "verification_message": "Code {{ code }}", "preview_channel": "voice"}
    page = text_of(await dash.submit(f"{HOME}/templates", {**custom, "preview_locale": "en"}))
    assert "Code 9, 2, 4, 6, 8, 1" in page and "text: body" in page
    long = {**preview, "verification_message": "{{ code }} " + "é" * 300, "preview_locale": "en"}
    page = text_of(await dash.submit(f"{HOME}/templates", long))
    assert "GSM-7, 3 segments, 307 characters" in page
    broken = {**preview, "verification_message": "{{ code }} {{ nope }}", "preview_locale": "en"}
    page = text_of(await dash.submit(f"{HOME}/templates", broken))
    assert "Invalid template in body: 'nope' is undefined" in page
    # Previewing saved nothing.
    assert (await ok(api, "GET", "/guardian/factors/phone/templates")) == defaults


async def test_the_preview_endpoint(api: Api) -> None:
    path = "/branding/phone/templates/preview"
    shown = await ok(api, "POST", path, json={"type": "otp_enroll", "locale": "de-AT"})
    assert shown["locale"] == "de" and shown["source"] == "built-in (de)"
    assert shown["channel"] == "sms" and "924681" in shown["text"]
    assert set(shown["analysis"]) == {"encoding", "segments", "characters"}
    body = {"type": "otp_verify", "channel": "voice", "body": "{{ code }} {{ locale }}"}
    shown = await ok(api, "POST", path, json={**body, "locale": "ar"})
    assert shown == {
        "text": "9, 2, 4, 6, 8, 1 ar",
        "channel": "voice",
        "locale": "ar",
        "source": "body",
        "analysis": {"characters": 19},
    }
    for bad, message in (
        ({"type": "otp_nope"}, "'type' must be one of"),
        ({"type": "otp_verify", "channel": "fax"}, "'channel' must be sms or voice."),
        ({"type": "otp_verify", "surprise": 1}, "unknown field(s): surprise."),
        ({"type": "otp_verify", "body": "no code"}, "the message must contain the code"),
    ):
        r = await api.mgmt("POST", path, json=bad)
        assert r.status_code == 400 and message in r.json()["message"], r.text
    reader = await api.management_token(scope="read:users")
    r = await api.client.post(
        "/api/v2" + path, json={"type": "otp_verify"}, headers={"authorization": f"Bearer {reader}"}
    )
    assert r.status_code == 403


# -- Branding > Phone Provider --------------------------------------------------------------


async def test_phone_provider_configure_test_disable_delete(
    dash: Dashboard, api: Api, twilio: TwilioFake
) -> None:
    twilio.reset()
    page_path = "/admin/branding/phone-provider"
    form = {
        "name": "twilio",
        "sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "default_from": FROM,
        "base_url": twilio.url,
        "delivery_methods": ["text", "voice"],
    }
    r = await dash.submit(page_path, {**form, "default_from": "not a sender!"})
    assert r.status_code == 400 and "Invalid twilio provider configuration" in text_of(r)
    assert AUTH_TOKEN not in r.text
    page = await dash.done(page_path, form)
    assert "Saved the twilio phone provider." in page and AUTH_TOKEN not in page
    [provider] = (await ok(api, "GET", "/branding/phone/providers"))["providers"]
    assert provider["configuration"]["delivery_methods"] == ["text", "voice"]
    assert provider["credentials_set"] == ["auth_token"]

    page = await dash.done(f"{page_path}/try", {"to": TO, "delivery_method": "text"})
    [sms] = twilio.messages
    assert "The provider accepted the test message." in page and sms.sid in page
    page = await dash.done(f"{page_path}/try", {"to": "+15005550001", "delivery_method": "text"})
    assert "The provider did not accept the test message" in page and "21211" in page
    r = await dash.submit(f"{page_path}/try", {"to": "not a number"})
    assert r.status_code == 400 and 'id="try-error"' in r.text

    page = await dash.done(page_path, {**form, "auth_token": "", "disabled": "on"})
    assert "This phone provider is disabled." in page and "every phone message" in page
    assert (await ok(api, "GET", "/branding/phone/providers"))["providers"][0]["disabled"]
    assert "Delete the twilio phone provider?" in await dash.page(f"{page_path}/delete")
    page = await dash.done(f"{page_path}/delete")
    assert "Deleted the phone provider" in page
    assert (await ok(api, "GET", "/branding/phone/providers")) == {"providers": []}


# -- Actions > Send Phone Message -----------------------------------------------------------


async def test_actions_create_deploy_bind_and_test_run(dash: Dashboard, api: Api) -> None:
    create = {
        "name": "log-and-send",
        "trigger": "send-phone-message",
        "action_code": "tests.web.action_targets:record",
        "secret_name_0": "CARRIER_KEY",
        "secret_value_0": SECRET_VALUE,
    }
    r = await dash.submit("/admin/actions", {**create, "action_code": "not code"})
    assert r.status_code == 400 and "'code' must name a Python callable" in text_of(r)
    assert SECRET_VALUE not in r.text
    r = await dash.submit("/admin/actions", create)
    assert r.status_code == 303
    page_path = r.headers["location"]
    page = await dash.page(page_path)
    assert "Created the action log-and-send." in page and "CARRIER_KEY" in page
    assert SECRET_VALUE not in page
    [action] = (await ok(api, "GET", "/actions/actions"))["actions"]
    assert [s["name"] for s in action["secrets"]] == ["CARRIER_KEY"] and not action["deployed"]

    r = await dash.submit(f"{page_path}/binding", {"trigger": "send-phone-message", "bind": "yes"})
    assert r.status_code == 400 and "must be deployed before it is bound" in text_of(r)
    assert "Deployed" in await dash.done(f"{page_path}/deploy")
    page = await dash.done(f"{page_path}/binding", {"trigger": "send-phone-message", "bind": "yes"})
    assert "Bound to send-phone-message." in page
    bindings = await ok(api, "GET", "/actions/triggers/send-phone-message/bindings")
    assert bindings["bindings"][0]["action"]["id"] == action["id"]

    page = await dash.done(f"{page_path}/test", {"payload": ""})
    assert "Test run: sent in" in page and '"status": "sent"' in page and '"result"' in page
    r = await dash.submit(f"{page_path}/test", {"payload": "{not json"})
    assert r.status_code == 400 and "The event is not valid JSON" in r.text

    # Keep the secret (empty value), add another; neither value is ever shown.
    edit = {
        "name": "log-and-send",
        "action_code": "tests.web.action_targets:record_other",
        "secret_name_0": "CARRIER_KEY",
        "secret_value_0": "",
        "secret_name_1": "SECOND",
        "secret_value_1": "second-value-77",
    }
    page = await dash.done(page_path, edit)
    assert "Saved the draft" in page and "second-value-77" not in page
    [action] = (await ok(api, "GET", "/actions/actions"))["actions"]
    assert [s["name"] for s in action["secrets"]] == ["CARRIER_KEY", "SECOND"]
    assert not action["all_changes_deployed"]
    page = await dash.done(f"{page_path}/binding", {"trigger": "send-phone-message", "bind": "no"})
    assert "Unbound from send-phone-message." in page
    assert (await ok(api, "GET", "/actions/triggers/send-phone-message/bindings"))["bindings"] == []


# -- Logs -----------------------------------------------------------------------------------


async def test_logs_filter_by_type_user_and_dates_and_show_an_event(
    dash: Dashboard, api: Api, clock: FrozenClock
) -> None:
    user_id = await api.create_user("carol@example.com")
    await dash.done(f"{HOME}/provider", {"provider": "sandbox"})  # a gd_tenant_update
    page = await dash.page("/admin/logs", type="ss")
    assert "carol@example.com" in page and "gd_tenant_update" not in page.split("Events")[1]
    page = await dash.page("/admin/logs", user_id=user_id)
    assert "carol@example.com" in page and "1 to 1 of 1" in page
    today = clock.now().date().isoformat()
    assert "carol@example.com" in await dash.page("/admin/logs", **{"from": today, "to": today})
    assert "No events match." in await dash.page("/admin/logs", to="2001-01-01")
    r = await dash.get("/admin/logs", **{"from": "yesterday"})
    assert r.status_code == 400 and "Query validation error" in r.text

    [entry] = await ok(api, "GET", f"/users/{quote(user_id, safe='')}/logs")
    page = await dash.page(f"/admin/logs/{entry['log_id']}")
    assert (
        "User created" in page
        and user_id in page
        and f"/admin/users/{quote(user_id, safe='')}" in page
    )


async def test_logs_page_through_the_results(dash: Dashboard, api: Api) -> None:
    for n in range(27):
        await api.create_user(f"user{n}@example.com")
    page = await dash.page("/admin/logs", type="ss")
    assert "1 to 25 of 28" in page and "Older events" in page and "Newer events" not in page
    page = await dash.page("/admin/logs", type="ss", page="1")
    assert "26 to 28 of 28" in page and "Newer events" in page and "Older events" not in page


# -- Users ----------------------------------------------------------------------------------


async def test_users_search_reset_mfa_and_a_recovery_code_shown_once(
    dash: Dashboard, api: Api
) -> None:
    await api.enable_mfa()
    user = await api.enrolled_user("Dave@Example.com", TO)
    user_path = f"/admin/users/{quote(user['user_id'], safe='')}"
    page = await dash.page("/admin/users", q="dave@example.COM")
    assert user["user_id"] in page and user_path in page
    assert user["user_id"] in await dash.page("/admin/users", q=user["user_id"])
    assert "No user matches nobody@example.com." in await dash.page(
        "/admin/users", q="nobody@example.com"
    )
    page = await dash.page(user_path)
    assert "XXXXXXXX0123" in page and "Recovery code" in page

    r = await dash.submit(f"{user_path}/recovery-code")
    assert r.status_code == 303
    page = await dash.page(r.headers["location"])
    fresh = re.search(r'class="recovery-code"><code>([A-Z0-9]{24})</code>', page)
    assert fresh and fresh[1] != user["recovery_code"]
    assert fresh[1] not in await dash.page(user_path)  # shown once
    token = await api.mfa_token("Dave@Example.com")
    assert (await api.recovery_grant(token, user["recovery_code"])).status_code == 403

    assert "Reset MFA for Dave@Example.com?" in await dash.page(f"{user_path}/reset-mfa")
    page = await dash.done(f"{user_path}/reset-mfa")
    assert "MFA is reset" in page and "XXXXXXXX0123" not in page
    assert (
        await ok(api, "GET", f"/users/{quote(user['user_id'], safe='')}/authentication-methods")
        == []
    )


async def test_users_by_email_endpoint(api: Api) -> None:
    user_id = await api.create_user("erin@example.com")
    found = await ok(api, "GET", "/users-by-email", params={"email": "ERIN@example.com"})
    assert [u["user_id"] for u in found] == [user_id] and found[0]["email"] == "erin@example.com"
    assert await ok(api, "GET", "/users-by-email", params={"email": "nobody@example.com"}) == []
    r = await api.mgmt("GET", "/users-by-email")
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_query_string"


# -- Sandbox inbox --------------------------------------------------------------------------


async def test_sandbox_inbox_shows_texts_and_calls_newest_first(dash: Dashboard, api: Api) -> None:
    await api.enable_mfa(["sms", "voice"])
    await api.create_user("frank@example.com")
    token = await api.mfa_token("frank@example.com")
    assert (await api.associate(token, TO, "sms")).status_code == 200
    assert (await api.associate(token, TO, "voice")).status_code == 200
    page = await dash.page("/admin/sandbox", recipient=TO)
    call, text = page.index("Voice call, read aloud:"), page.index("Text to " + TO)
    assert call < text  # the call came last, so it is listed first
    assert "is your verification code for phonegate" in page
    assert "No messages." in await dash.page("/admin/sandbox", recipient="+14155550100")


# -- accounts -------------------------------------------------------------------------------


async def test_bootstrap_keeps_the_admin_and_the_cli_creates_more(
    container: Container, creds: Credentials, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    again = await bootstrap(container)
    assert (again.admin_email, again.admin_password) == ("admin@example.com", creds.admin_password)
    # `bootstrap --json` keeps exactly its documented shape; the admin is printed, not there.
    assert set(again.as_json()) == {"url", "application", "management", "user"}
    for name, value in (
        ("PHONEGATE_DATABASE_URL", settings.database_url),
        ("PHONEGATE_DATA_DIR", str(settings.data_dir)),
        ("PHONEGATE_SECRET_KEYS", settings.secret_keys.get_secret_value()),
        ("PHONEGATE_ENV", "test"),
        ("PHONEGATE_ARGON2_TIME_COST", "1"),
        ("PHONEGATE_ARGON2_MEMORY_KIB", "1024"),
    ):
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str, prompted: str | None = None) -> Any:
        return runner.invoke(cli, ["admin", "create", *args], input=prompted)

    made = await asyncio.to_thread(run, "ops@example.com", "--generate")
    assert made.exit_code == 0, made.output
    password = re.search(r"password: (\S+)", made.output)
    assert password and len(password[1]) >= admins.MIN_PASSWORD_LENGTH
    typed = "a long typed password\n" * 2
    made = await asyncio.to_thread(run, "oncall@example.com", prompted=typed)
    assert made.exit_code == 0 and "password:" not in made.output.split("created")[1], made.output
    again_made = await asyncio.to_thread(run, "OPS@example.com", "--generate")
    assert again_made.exit_code == 1 and "already exists" in again_made.output
    short = await asyncio.to_thread(run, "short@example.com", prompted="too short\n" * 2)
    assert short.exit_code == 1 and "12 to 128 characters" in short.output

    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.get_by_name("default")
        assert tenant is not None
        for email, secret in (
            ("ops@example.com", password[1]),
            ("oncall@example.com", "a long typed password"),
        ):
            found = await admins.sign_in(uow, container.deps, tenant.id, email, secret, "192.0.2.1")
            assert found.email == email


async def test_dashboard_writes_are_logged_against_the_admin(
    dash: Dashboard, container: Container
) -> None:
    await dash.done(f"{HOME}/message-types", {"message_types": "sms"})
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        writes = await uow.events.list(tenant.id, type_="gd_tenant_update")
    assert writes and writes[0].details["actor"].startswith("admin|"), writes[0].details
