"""Universal Login in a real browser: the sample application signs users in through
phonegate's pages, by SMS, by voice call (Twilio, faked) and with a recovery code, by
keyboard alone and without JavaScript; every page passes an axe-core scan and renders in
French and (right to left) in Arabic."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Phonegate, Shots
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

TWILIO_FROM = "+15005550006"  # Twilio's magic "valid sender"
FULL_SCOPE = "openid profile email offline_access"


def national(number: str) -> str:
    """What a person types after choosing the United States: 415 555 0123."""
    digits = number.removeprefix("+1")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def start_login(page: Any, sample_app: str, email: str, query: str = "") -> None:
    """From the sample application to phonegate, and the password step (by element ids,
    so it works in every language)."""
    page.goto(sample_app + "/login" + query)
    page.wait_for_url("**/u/login")
    page.locator("#username").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()


def finish_with_code(page: Any, code: str) -> None:
    page.locator("#code").fill(code)
    page.locator("form[action='/u/mfa-phone-challenge'] button").click()


def expect_signed_in(page: Any, sample_app: str, email: str, amr: str) -> None:
    page.wait_for_url(sample_app + "/")
    expect(page.locator("#scope")).to_have_text(FULL_SCOPE)
    expect(page.locator("#claims")).to_contain_text(email)
    expect(page.locator("#claims tr", has_text="amr")).to_contain_text(amr)


def enroll_by_sms(page: Any, phonegate: Phonegate, number: str, shot: Shots | None) -> None:
    page.wait_for_url("**/u/mfa-phone-enrollment")
    expect(page.locator("#country")).to_have_value("US")
    if shot:
        shot(page, "enroll")
    page.get_by_label("Phone number").fill(national(number))
    page.get_by_label("Text message (SMS)").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/u/mfa-phone-challenge")
    expect(page.locator(".intro")).to_contain_text(f"XXXXXXXX{number[-4:]}")
    if shot:
        shot(page, "code")
    finish_with_code(page, phonegate.sandbox_code(number, set()))
    page.wait_for_url("**/u/mfa-recovery-code-shown")
    expect(page.locator(".recovery-code code")).to_have_text(re.compile(r"^[A-Z0-9]{24}$"))
    if shot:
        shot(page, "recovery-code-shown")
    page.get_by_role("button", name="I have safely recorded this code").click()


def test_sms_enrollment_reaches_the_sample_app(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    email = phonegate.new_user()
    page.goto(sample_app)
    page.get_by_role("link", name="Log in").click()
    page.wait_for_url("**/u/login")
    shot(page, "login")
    page.get_by_label("Email address or phone number").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    enroll_by_sms(page, phonegate, number, shot)
    expect_signed_in(page, sample_app, email, "'pwd', 'mfa'")
    shot(page, "sample-app-signed-in")
    page.get_by_role("link", name="Log out").click()
    page.wait_for_url(sample_app + "/")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


@pytest.fixture
def twilio(phonegate: Phonegate) -> Any:
    """A Twilio fake that records calls; ``use_twilio`` makes it the Guardian provider, and
    the sandbox provider is back after the test."""
    with TwilioFake() as fake:
        try:
            yield fake
        finally:
            phonegate.mgmt(
                "PUT", "/guardian/factors/phone/selected-provider", {"provider": "sandbox"}
            )


def use_twilio(phonegate: Phonegate, fake: TwilioFake) -> None:
    config = {
        "sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from": TWILIO_FROM,
        "base_url": fake.url,
    }
    phonegate.mgmt("PUT", "/guardian/factors/phone/providers/twilio", config)
    phonegate.mgmt("PUT", "/guardian/factors/phone/selected-provider", {"provider": "twilio"})


def wait_for(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sign_in_again_with_a_voice_call(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, twilio: TwilioFake, shot: Shots
) -> None:
    email, _ = phonegate.enrolled_user(number)  # enrolled by SMS through the sandbox
    use_twilio(phonegate, twilio)
    start_login(page, sample_app, email)
    page.wait_for_url("**/u/mfa-phone-challenge")
    wait_for(lambda: [m for m in twilio.messages if m.to == number], "the SMS through Twilio")
    page.get_by_role("button", name="Get a call instead").click()
    expect(page.locator(".intro")).to_contain_text("calling")
    expect(page.get_by_role("button", name="Send a text instead")).to_be_visible()
    shot(page, "code-voice")
    call = wait_for(lambda: [c for c in twilio.calls if c.to == number], "the call")[0]
    read_out = re.search(r"\d(?:\D{1,3}\d){5}", call.spoken)
    assert read_out, call.spoken
    finish_with_code(page, re.sub(r"\D", "", read_out.group(0)))
    expect_signed_in(page, sample_app, email, "'pwd', 'mfa'")


def test_lost_phone_recovery_code_then_a_new_one_shown_once(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    email, recovery = phonegate.enrolled_user(number)
    start_login(page, sample_app, email)
    page.wait_for_url("**/u/mfa-phone-challenge")
    page.get_by_role("link", name="Use a recovery code").click()
    page.wait_for_url("**/u/mfa-recovery-code")
    shot(page, "recovery")
    page.get_by_label("Recovery code").fill(recovery)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/u/mfa-recovery-code-shown")
    fresh = page.locator(".recovery-code code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{24}", fresh) and fresh != recovery
    shot(page, "recovery-code-shown")
    page.get_by_role("button", name="I have safely recorded this code").click()
    expect_signed_in(page, sample_app, email, "'pwd', 'mfa'")


def test_keyboard_only_enrollment(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    """Tab and Enter (and typing), never the mouse; focus lands where the user expects it
    and is always visible."""
    email = phonegate.new_user()
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
    keys.type(email)
    keys.press("Tab")
    focused("#password")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.wait_for_url("**/u/mfa-phone-enrollment")
    focused("#country")
    keys.press("Tab")
    focused("#phone_number")
    keys.type(national(number))
    keys.press("Tab")
    focused("#channel-sms")
    keys.press("Tab")
    focused("button[type=submit]")
    shot(page, "enroll-focus")
    keys.press("Enter")
    page.wait_for_url("**/u/mfa-phone-challenge")
    focused("#code")
    keys.type(phonegate.sandbox_code(number, set()))
    keys.press("Enter")
    page.wait_for_url("**/u/mfa-recovery-code-shown")
    focused("button[name=confirm]")
    keys.press("Enter")
    expect_signed_in(page, sample_app, email, "'pwd', 'mfa'")


@pytest.mark.parametrize("page", [{"java_script_enabled": False}], indirect=True)
def test_enrollment_without_javascript(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    email = phonegate.new_user()
    start_login(page, sample_app, email)
    enroll_by_sms(page, phonegate, number, shot)
    expect_signed_in(page, sample_app, email, "'pwd', 'mfa'")


def assert_accessible(page: Any, name: str, shot: Shots) -> None:
    shot(page, name)
    violations = Axe().run(page).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{name}: {serious}"


def test_every_page_passes_axe(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    email = phonegate.new_user()
    start_login(page, sample_app, "nobody@example.com")
    page.wait_for_url("**/u/login")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    assert_accessible(page, "login-error", shot)
    page.locator("#username").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/u/mfa-phone-enrollment")
    assert_accessible(page, "enroll", shot)
    page.get_by_label("Phone number").fill("12")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("valid phone number")
    assert_accessible(page, "enroll-error", shot)
    page.get_by_label("Phone number").fill(national(number))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/u/mfa-phone-challenge")
    assert_accessible(page, "code", shot)
    code = phonegate.sandbox_code(number, set())
    finish_with_code(page, "000000" if code != "000000" else "111111")  # a wrong code
    expect(page.get_by_role("alert")).to_have_text("The code you entered is invalid.")
    assert_accessible(page, "code-error", shot)
    finish_with_code(page, code)
    page.wait_for_url("**/u/mfa-recovery-code-shown")
    assert_accessible(page, "recovery-code-shown", shot)
    recovery = page.locator(".recovery-code code").inner_text()
    page.get_by_role("button", name="I have safely recorded this code").click()
    page.wait_for_url(sample_app + "/")

    page.goto(sample_app + "/logout")
    start_login(page, sample_app, email)
    page.wait_for_url("**/u/mfa-phone-challenge")
    page.get_by_role("link", name="Use a recovery code").click()
    assert_accessible(page, "recovery", shot)
    page.get_by_label("Recovery code").fill(recovery)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/u/mfa-recovery-code-shown")
    page.get_by_role("button", name="I have safely recorded this code").click()
    page.wait_for_url(sample_app + "/")

    response = page.goto(phonegate.url + "/u/login")  # the transaction is over
    assert response.status == 400
    assert_accessible(page, "error", shot)


@pytest.mark.parametrize("page", [{"locale": "fr-FR"}], indirect=True)
def test_code_page_in_french_and_in_arabic(
    page: Any, phonegate: Phonegate, sample_app: str, number: str, shot: Shots
) -> None:
    email, _ = phonegate.enrolled_user(number)
    start_login(page, sample_app, email)
    page.wait_for_url("**/u/mfa-phone-challenge")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.get_by_label("Saisissez le code à 6 chiffres")).to_be_visible()
    shot(page, "code-fr")

    start_login(page, sample_app, email, "?ui_locales=ar")  # ui_locales wins over the browser
    page.wait_for_url("**/u/mfa-phone-challenge")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_label("أدخل الرمز المكون من 6 أرقام")).to_be_visible()
    expect(page.locator(".intro bdi")).to_have_text(f"XXXXXXXX{number[-4:]}")
    shot(page, "code-ar")
