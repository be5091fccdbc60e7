"""The operator dashboard in a real browser: an operator switches the phone factor from
SMS-only to SMS-and-voice (without JavaScript) and the user's next login offers the call;
the Phone Message form by keyboard alone; every dashboard page passes an axe-core scan, and
is photographed to ``test-artifacts/screenshots/dashboard-<page>.png``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Phonegate, Shots
from tests.browser.test_universal_login import assert_accessible, start_login

HOME = "/admin/mfa/phone-message"


@pytest.fixture
def sms_only(phonegate: Phonegate) -> Iterator[None]:
    """The phone factor sends SMS only for one test; the session's SMS and voice after."""
    types = "/guardian/factors/phone/message-types"
    phonegate.mgmt("PUT", types, {"message_types": ["sms"]})
    try:
        yield
    finally:
        phonegate.mgmt("PUT", types, {"message_types": ["sms", "voice"]})


@pytest.fixture(scope="module")
def dashboard_shot() -> Shots:
    return Shots("dashboard")


def sign_in(tab: Any, phonegate: Phonegate) -> None:
    tab.goto(phonegate.url + "/admin")
    tab.wait_for_url("**/admin/login?next=/admin")
    tab.get_by_label("Email address").fill(phonegate.creds.admin_email)
    tab.get_by_label("Password").fill(phonegate.creds.admin_password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**" + HOME)


def user_reaches_the_code_page(
    browser: Any, phonegate: Phonegate, sample_app: str, email: str
) -> Any:
    """A fresh browser of the user, signed in with a password, at the code page."""
    context = browser.new_context(locale="en-US")
    tab = context.new_page()
    start_login(tab, sample_app, email)
    tab.wait_for_url("**/u/mfa-phone-challenge")
    return tab


def test_switching_to_sms_and_voice_offers_a_call_at_the_next_login(
    browser: Any,
    phonegate: Phonegate,
    sample_app: str,
    number: str,
    sms_only: None,
    dashboard_shot: Shots,
) -> None:
    email, _ = phonegate.enrolled_user(number)
    before = user_reaches_the_code_page(browser, phonegate, sample_app, email)
    expect(before.locator(".intro")).to_contain_text(f"XXXXXXXX{number[-4:]}")
    expect(before.get_by_role("button", name="Get a call instead")).to_have_count(0)
    before.context.close()

    operator = browser.new_context(locale="en-US", java_script_enabled=False)
    tab = operator.new_page()
    sign_in(tab, phonegate)
    methods = tab.get_by_role("group", name="How codes reach users")
    expect(methods.get_by_label("SMS", exact=True)).to_be_checked()
    methods.get_by_label("SMS and voice").check()
    tab.locator("#message-types").get_by_role("button", name="Save").click()
    expect(tab.locator("#message-types [role=status]")).to_have_text(
        "Saved the message delivery method."
    )
    expect(tab.get_by_label("SMS and voice")).to_be_checked()
    dashboard_shot(tab, "phone-message-saved")
    operator.close()
    assert phonegate.mgmt("GET", "/guardian/factors/phone/message-types") == {
        "message_types": ["sms", "voice"]
    }

    after = user_reaches_the_code_page(browser, phonegate, sample_app, email)
    dashboard_shot(after, "next-login-code")
    after.get_by_role("button", name="Get a call instead").click()
    expect(after.locator(".intro")).to_contain_text("calling")
    dashboard_shot(after, "next-login-offers-a-call")
    after.context.close()


def test_phone_message_form_by_keyboard_alone(
    page: Any, phonegate: Phonegate, sms_only: None
) -> None:
    """Tab, arrows, letters and Enter, never the mouse: focus follows the page's order and
    is always visible."""
    keys = page.keyboard

    def focused_id() -> str:
        ring = page.evaluate(
            "getComputedStyle(document.activeElement).outlineStyle !== 'none'"
            " || !document.activeElement.matches(':focus-visible')"
        )
        assert ring, "no visible focus"
        found: str = page.evaluate(
            "document.activeElement.id || document.activeElement.textContent"
        )
        return found.strip()

    def tab_to(target: str, limit: int = 40) -> list[str]:
        seen = []
        for _ in range(limit):
            keys.press("Tab")
            seen.append(focused_id())
            if seen[-1] == target:
                return seen
        raise AssertionError(f"Tab never reached {target}: {seen}")

    page.goto(phonegate.url + "/admin")
    page.wait_for_url("**/admin/login**")
    assert focused_id() == "email"  # autofocus
    keys.type(phonegate.creds.admin_email)
    keys.press("Tab")
    assert focused_id() == "password"
    keys.type(phonegate.creds.admin_password)
    keys.press("Enter")
    page.wait_for_url("**" + HOME)

    keys.press("Tab")
    assert focused_id() == "Skip to main content"
    keys.press("Enter")
    order = tab_to("message_types-sms")
    # The page's order: the factor, the provider (its chosen radio), Twilio, the methods.
    for earlier, later in (
        ("sms_enabled", "recovery_enabled"),
        ("recovery_enabled", "provider-sandbox"),
        ("provider-sandbox", "sid"),
        ("sid", "auth_token"),
    ):
        assert order.index(earlier) < order.index(later), order
    keys.press("ArrowDown")  # SMS -> Voice
    keys.press("ArrowDown")  # Voice -> SMS and voice
    assert focused_id() == "message_types-sms-voice"
    keys.press("Tab")
    assert focused_id() == "Save"
    keys.press("Enter")
    expect(page.locator("#message-types [role=status]")).to_have_text(
        "Saved the message delivery method."
    )
    assert phonegate.mgmt("GET", "/guardian/factors/phone/message-types") == {
        "message_types": ["sms", "voice"]
    }

    # After saving, Tab goes on from the form that was sent: on to the preview in French.
    tab_to("preview_locale")
    keys.type("Fr")
    keys.press("Tab")
    assert focused_id() == "preview_channel"
    keys.press("Tab")
    assert focused_id() == "Preview"
    keys.press("Enter")
    expect(page.locator(".preview")).to_contain_text("est votre code de vérification pour")


def test_every_dashboard_page_passes_axe(
    page: Any, phonegate: Phonegate, number: str, dashboard_shot: Shots
) -> None:
    email, _ = phonegate.enrolled_user(number)
    [user] = phonegate.mgmt("GET", f"/users-by-email?email={quote(email)}")
    user_path = "/admin/users/" + quote(user["user_id"], safe="")
    action = phonegate.mgmt(
        "POST",
        "/actions/actions",
        {
            "name": f"axe-{number[-4:]}",
            "supported_triggers": [{"id": "send-phone-message", "version": "v2"}],
            "code": "examples.actions.send_with_logging:on_send_phone_message",
            "secrets": [{"name": "CARRIER_KEY", "value": "not shown"}],
        },
    )
    page.goto(phonegate.url + "/admin/login")
    assert_accessible(page, "login", dashboard_shot)
    sign_in(page, phonegate)
    assert_accessible(page, "phone-message", dashboard_shot)

    page.get_by_label("Account SID").fill("AC" + "0" * 32)
    page.locator("#twilio").get_by_role("button", name="Save").click()
    expect(page.locator("#twilio-error")).to_contain_text("Twilio needs")
    assert_accessible(page, "phone-message-error", dashboard_shot)
    page.get_by_label("Language").select_option("ar")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview")).to_contain_text("924681")
    assert_accessible(page, "phone-message-preview", dashboard_shot)

    for name, path in (
        ("phone-provider", "/admin/branding/phone-provider"),
        ("actions", "/admin/actions"),
        ("action", f"/admin/actions/{action['id']}"),
        ("logs", "/admin/logs?type=gd_send_sms"),
        ("users", "/admin/users?q=" + quote(email)),
        ("user", user_path),
        ("user-reset-mfa", user_path + "/reset-mfa"),
        ("sandbox", "/admin/sandbox?recipient=" + quote(number)),
    ):
        page.goto(phonegate.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert_accessible(page, name, dashboard_shot)
    page.goto(phonegate.url + "/admin/logs")
    page.locator("table a").first.click()
    page.wait_for_url("**/admin/logs/*")
    assert_accessible(page, "log", dashboard_shot)
    page.goto(phonegate.url + user_path)
    page.get_by_role("button", name="Regenerate recovery code").click()
    expect(page.locator("#recovery .recovery-code")).to_be_visible()
    assert_accessible(page, "user-recovery-code", dashboard_shot)
    phonegate.mgmt("DELETE", f"/actions/actions/{action['id']}")
