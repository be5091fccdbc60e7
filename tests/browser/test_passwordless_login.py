"""Passwordless SMS through Universal Login in a real browser: the sample application →
the login page → "Continue with phone" → the number → the code from the sandbox inbox →
signed in at the sample application; by keyboard alone, without JavaScript, and through
an axe-core scan of both pages. Screenshots: ``passwordless-<page>.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Phonegate, Shots
from tests.browser.test_universal_login import assert_accessible, national

PHONE_PAGE, CODE_PAGE = "/u/login-passwordless-sms", "/u/login-passwordless-sms-otp"


@pytest.fixture(scope="module", autouse=True)
def sms_connection(phonegate: Phonegate) -> Iterator[None]:
    """The tenant's sms connection, enabled for the sample application, for this module."""
    created = phonegate.mgmt(
        "POST",
        "/connections",
        {"name": "sms", "strategy": "sms", "enabled_clients": [phonegate.creds.client_id]},
    )
    yield
    phonegate.mgmt("DELETE", f"/connections/{created['id']}")


@pytest.fixture
def shot() -> Shots:
    return Shots("passwordless")


def to_phone_page(page: Any, sample_app: str) -> None:
    page.goto(sample_app)
    page.get_by_role("link", name="Log in").click()
    page.wait_for_url("**/u/login")
    page.get_by_role("link", name="Continue with phone").click()
    page.wait_for_url("**" + PHONE_PAGE)


def send_code(page: Any, number: str) -> None:
    page.get_by_label("Phone number").fill(national(number))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**" + CODE_PAGE)


def enter_code(page: Any, code: str) -> None:
    page.get_by_label("Enter the 6-digit code").fill(code)
    page.locator(f"form[action='{CODE_PAGE}'] button").click()


def expect_signed_in(page: Any, sample_app: str, number: str) -> None:
    """At the sample application, its ID token naming the user by the phone number."""
    page.wait_for_url(sample_app + "/")
    claims = page.locator("#claims tr")
    name = claims.filter(has=page.locator("th", has_text=re.compile(r"^name$")))
    expect(name.locator("td")).to_have_text(number)
    expect(claims.filter(has_text="amr").locator("td")).to_have_text("['sms']")
    expect(claims.filter(has_text="sub").locator("td")).to_have_text(re.compile(r"^sms\|"))


def test_continue_with_phone_reaches_the_sample_app(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    page.goto(sample_app)
    page.get_by_role("link", name="Log in").click()
    page.wait_for_url("**/u/login")
    shot(page, "login")
    page.get_by_role("link", name="Continue with phone").click()
    page.wait_for_url("**" + PHONE_PAGE)
    expect(page.locator("#country")).to_have_value("US")
    expect(page.locator("#country")).to_be_focused()
    shot(page, "phone")
    send_code(page, number)
    expect(page.locator(".intro")).to_contain_text(f"XXXXXXXX{number[-4:]}")
    expect(page.get_by_role("button", name="Resend code")).to_be_disabled()  # the script's wait
    shot(page, "code")
    enter_code(page, phonegate.sandbox_code(number, set()))
    expect_signed_in(page, sample_app, number)
    shot(page, "signed-in")


def test_both_pages_pass_axe(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    to_phone_page(page, sample_app)
    assert_accessible(page, "phone-axe", shot)
    page.get_by_label("Phone number").fill("12")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Enter a valid phone number for the selected country."
    )
    expect(page.get_by_label("Phone number")).to_be_focused()
    assert_accessible(page, "phone-error", shot)
    send_code(page, number)
    assert_accessible(page, "code-axe", shot)
    code = phonegate.sandbox_code(number, set())
    enter_code(page, "000000" if code != "000000" else "111111")
    expect(page.get_by_role("alert")).to_have_text("The code you entered is invalid.")
    assert_accessible(page, "code-error", shot)
    enter_code(page, code)
    expect_signed_in(page, sample_app, number)


def test_keyboard_only(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    """Tab, Enter and typing, never the mouse; focus lands where the user expects it and is
    always visible."""
    keys = page.keyboard

    def focused(selector: str) -> None:
        expect(page.locator(selector)).to_be_focused()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        ring = page.evaluate("document.activeElement.matches(':focus-visible')")
        assert outline != "none" or not ring, f"no visible focus on {selector}"

    page.goto(sample_app)
    keys.press("Tab")
    keys.press("Enter")  # the "Log in" link
    page.wait_for_url("**/u/login")
    focused("#username")
    for _ in range(3):  # the password, the Continue button, then the link
        keys.press("Tab")
    focused(f"a[href='{PHONE_PAGE}']")
    keys.press("Enter")
    page.wait_for_url("**" + PHONE_PAGE)
    focused("#country")
    keys.press("Tab")
    focused("#phone_number")
    keys.type(national(number))
    keys.press("Tab")
    focused("button[type=submit]")
    shot(page, "phone-focus")
    keys.press("Enter")
    page.wait_for_url("**" + CODE_PAGE)
    focused("#code")
    keys.type(phonegate.sandbox_code(number, set()))
    shot(page, "code-focus")
    keys.press("Enter")
    expect_signed_in(page, sample_app, number)


@pytest.mark.parametrize("page", [{"java_script_enabled": False}], indirect=True)
def test_without_javascript(page: Any, phonegate: Phonegate, sample_app: str, number: str) -> None:
    to_phone_page(page, sample_app)
    send_code(page, number)
    # No script counts the wait down: the button stays usable, the server enforces the wait.
    expect(page.get_by_role("button", name="Resend code")).to_be_enabled()
    enter_code(page, phonegate.sandbox_code(number, set()))
    expect_signed_in(page, sample_app, number)
