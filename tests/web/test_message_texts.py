"""Changing message types, provider, template or language changes the very next message
sent, for enrollment and for verification, SMS and voice: each test sends one message before
a change and one after, and compares what the sandbox inbox or the Twilio fake received."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest

from tests.conftest import Api
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.shapes import assert_error
from tests.web import test_branding_phone as branding
from tests.web.test_guardian_phone import FROM, ok

# The Twilio fake, and settings that let phonegate reach it, shared with the Branding tests.
settings = branding.settings
running_twilio = branding.running_twilio
twilio = branding.twilio

Kind = Literal["enrollment", "verification"]
TEMPLATE_TYPE = {"enrollment": "otp_enroll", "verification": "otp_verify"}
kinds = pytest.mark.parametrize("kind", ["enrollment", "verification"])


@dataclass(frozen=True)
class Person:
    """Who gets the test's messages: a user enrolling a phone, or one logging in with it."""

    kind: Kind
    user_id: str
    email: str
    phone: str
    mfa_token: str  # one login serves every send of a test (the clock is frozen)


@pytest.fixture
async def person(api: Api, kind: Kind) -> Person:
    await api.enable_mfa(["sms", "voice"])
    email, phone = f"{kind}@example.com", "+14155550111"
    if kind == "enrollment":
        user_id = await api.create_user(email)
    else:
        user_id = (await api.enrolled_user(email, phone))["user_id"]
    return Person(kind, user_id, email, phone, await api.mfa_token(email))


def builtin_en(kind: Kind) -> str:
    text = "CODE is your verification code for phonegate"
    return (
        f"{text}. Please enter this code to verify your enrollment."
        if kind == "enrollment"
        else text
    )


def spoken(code: str) -> str:
    return ", ".join(code)


async def send(
    api: Api, to: Person, channel: str = "sms", headers: dict[str, str] | None = None
) -> httpx.Response:
    """Ask phonegate to send one code message: an enrollment, or a login challenge."""
    if to.kind == "enrollment":
        return await api.client.post(
            "/mfa/associate",
            headers={"authorization": f"Bearer {to.mfa_token}", **(headers or {})},
            json={
                **api.app_auth,
                "authenticator_types": ["oob"],
                "oob_channels": [channel],
                "phone_number": to.phone,
            },
        )
    return await api.client.post(
        "/mfa/challenge",
        headers=headers or {},
        json={
            **api.app_auth,
            "mfa_token": to.mfa_token,
            "challenge_type": "oob",
            "oob_channel": channel,
        },
    )


async def inbox_message(
    api: Api, to: Person, channel: str = "sms", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Send one message through the sandbox and return it as the inbox shows it."""
    before = len(await api.inbox())
    r = await send(api, to, channel, headers)
    assert r.status_code == 200, r.text
    messages = await api.inbox()
    assert len(messages) == before + 1, messages
    newest = messages[0]
    assert (newest["channel"], newest["recipient"]) == (channel, to.phone), newest
    return newest


async def inbox_text(
    api: Api, to: Person, channel: str = "sms", headers: dict[str, str] | None = None
) -> str:
    """The text of the next message, its code replaced by ``CODE`` for comparison."""
    message = await inbox_message(api, to, channel, headers)
    code = message["code"]
    text: str = message["text"].replace(spoken(code), "CODE").replace(code, "CODE")
    return text


def masked(text: str) -> str:
    """A text the Twilio fake received, its code (six digits, or read out) as ``CODE``."""
    return re.sub(r"\d(, \d){5}|\d{6}", "CODE", text)


async def use_twilio(api: Api, fake: TwilioFake) -> None:
    await ok(
        api,
        "PUT",
        "/guardian/factors/phone/providers/twilio",
        {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": FROM, "base_url": fake.url},
    )
    await ok(api, "PUT", "/guardian/factors/phone/selected-provider", {"provider": "twilio"})


# --- templates -----------------------------------------------------------------------------


@kinds
async def test_guardian_templates(api: Api, person: Person) -> None:
    assert await inbox_text(api, person) == builtin_en(person.kind)
    await ok(
        api,
        "PUT",
        "/guardian/factors/phone/templates",
        {
            # Auth0 uses one template for both channels; message_type tells them apart.
            "enrollment_message": "{% if message_type == 'voice' %}Say enroll {{ code }}"
            "{% else %}Enroll {{ code }} at {{ tenant.friendly_name }}{% endif %}",
            "verification_message": "{% if message_type == 'voice' %}Say verify {{ code }}"
            "{% else %}Verify {{ code }}{% endif %}",
        },
    )
    expected = {"enrollment": "Enroll CODE at phonegate", "verification": "Verify CODE"}
    assert await inbox_text(api, person) == expected[person.kind]
    word = "enroll" if person.kind == "enrollment" else "verify"
    assert await inbox_text(api, person, "voice") == f"Say {word} CODE"


@kinds
async def test_branding_template_body(api: Api, person: Person) -> None:
    await ok(
        api,
        "PUT",
        "/guardian/factors/phone/templates",
        {
            "enrollment_message": "Guardian {{ code }}",
            "verification_message": "Guardian {{ code }}",
        },
    )
    assert await inbox_text(api, person) == "Guardian CODE"
    created = await branding.create(
        api,
        branding.TEMPLATES,
        {
            "type": TEMPLATE_TYPE[person.kind],
            "content": {
                "body": {
                    "text": "Branded {{ code }} for {{ friendly_name }}",
                    "voice": "Branded call {{ pause }} {{ code }}",
                }
            },
        },
    )
    # The Branding template wins over the Guardian one, on both channels.
    assert await inbox_text(api, person) == "Branded CODE for phonegate"
    assert await inbox_text(api, person, "voice") == "Branded call ... CODE"
    # A PATCHed body is the next text; disabled, the Guardian template is back.
    template = f"{branding.TEMPLATES}/{created['id']}"
    await ok(api, "PATCH", template, {"content": {"body": {"text": "Patched {{ code }}"}}})
    assert await inbox_text(api, person) == "Patched CODE"
    await ok(api, "PATCH", template, {"disabled": True})
    assert await inbox_text(api, person) == "Guardian CODE"


# --- language ------------------------------------------------------------------------------


@kinds
async def test_branding_translation_by_request_or_user_language(api: Api, person: Person) -> None:
    await branding.create(
        api,
        branding.TEMPLATES,
        {
            "type": TEMPLATE_TYPE[person.kind],
            "content": {"body": {"text": "EN {{ code }} {{ locale }}"}},
            "translations": {"fr": {"text": "FR {{ code }} {{ locale }}"}},
        },
    )
    assert await inbox_text(api, person) == "EN CODE en"
    assert await inbox_text(api, person, headers={"accept-language": "fr-FR,fr;q=0.9"}) == (
        "FR CODE fr"
    )
    # Auth0's x-request-language comes before Accept-Language.
    headers = {"x-request-language": "fr", "accept-language": "en"}
    assert await inbox_text(api, person, headers=headers) == "FR CODE fr"
    # A language with no text falls back to the next one asked for, then the tenant default.
    assert await inbox_text(api, person, headers={"accept-language": "sw, fr;q=0.5"}) == (
        "FR CODE fr"
    )
    assert await inbox_text(api, person, headers={"accept-language": "sw"}) == "EN CODE en"
    # The user's stored locale, when the request names none.
    r = await api.mgmt(
        "PATCH", f"/users/{person.user_id}", json={"user_metadata": {"locale": "fr"}}
    )
    assert r.status_code == 200, r.text
    assert await inbox_text(api, person) == "FR CODE fr"
    assert await inbox_text(api, person, headers={"accept-language": "en"}) == "EN CODE en"


BUILTIN = {
    ("enrollment", "fr"): "CODE est votre code de vérification pour phonegate. "
    "Saisissez ce code pour valider votre inscription.",
    ("verification", "fr"): "CODE est votre code de vérification pour phonegate",
    (
        "enrollment",
        "ja",
    ): "phonegateの確認コードは CODE です。登録を完了するには、このコードを入力してください。",
    ("verification", "ja"): "phonegateの確認コードは CODE です",
    (
        "enrollment",
        "ar",
    ): "CODE هو رمز التحقق الخاص بك لدى phonegate. يُرجى إدخال هذا الرمز لتأكيد تسجيلك.",
    ("verification", "ar"): "CODE هو رمز التحقق الخاص بك لدى phonegate",
}


@kinds
async def test_builtin_texts_in_the_users_language(api: Api, person: Person) -> None:
    assert await inbox_text(api, person) == builtin_en(person.kind)
    for language in ("fr", "ja", "ar"):
        headers = {"accept-language": language}
        assert await inbox_text(api, person, headers=headers) == BUILTIN[(person.kind, language)]
    # No Swahili text: the tenant's default language.
    assert await inbox_text(api, person, headers={"accept-language": "sw"}) == builtin_en(
        person.kind
    )
    voice = await inbox_message(api, person, "voice", headers={"x-request-language": "fr"})
    assert voice["text"].startswith("Bonjour.") and voice["text"].count(spoken(voice["code"])) == 2


# --- message types -------------------------------------------------------------------------


@kinds
async def test_message_types_sms_to_voice(api: Api, person: Person) -> None:
    await ok(api, "PUT", "/guardian/factors/phone/message-types", {"message_types": ["sms"]})
    assert await inbox_text(api, person) == builtin_en(person.kind)
    refused = await send(api, person, "voice")
    assert "voice" in assert_error(refused, 400, "invalid_request")["error_description"]

    await ok(
        api, "PUT", "/guardian/factors/phone/message-types", {"message_types": ["sms", "voice"]}
    )
    voice = await inbox_message(api, person, "voice")
    code = voice["code"]
    # The code is read digit by digit, with a pause before each reading.
    assert voice["text"] == (
        f"Hello. Your verification code for phonegate is ... {spoken(code)}. "
        f"I repeat, your verification code is ... {spoken(code)}"
    )


# --- provider ------------------------------------------------------------------------------


@kinds
async def test_provider_sandbox_to_twilio_and_back(
    api: Api, person: Person, twilio: TwilioFake
) -> None:
    assert await inbox_text(api, person) == builtin_en(person.kind)
    await use_twilio(api, twilio)
    inbox_size = len(await api.inbox())

    assert (await send(api, person)).status_code == 200
    [sms] = twilio.messages
    assert (sms.to, sms.from_, masked(sms.body)) == (person.phone, FROM, builtin_en(person.kind))
    assert (await send(api, person, "voice")).status_code == 200
    [call] = twilio.calls
    assert call.to == person.phone and "CODE" in masked(call.spoken), call.spoken
    assert len(await api.inbox()) == inbox_size

    await ok(api, "PUT", "/guardian/factors/sms/selected-provider", {"provider": "sandbox"})
    assert await inbox_text(api, person) == builtin_en(person.kind)
    assert len(twilio.messages) == 1 and len(twilio.calls) == 1


@kinds
async def test_twilio_voice_speaks_the_messages_language(
    api: Api, person: Person, twilio: TwilioFake
) -> None:
    await use_twilio(api, twilio)
    for headers, language, greeting in (
        ({}, "en-US", "Hello."),
        ({"accept-language": "fr"}, "fr-FR", "Bonjour."),
        ({"x-request-language": "ja"}, "ja-JP", "こんにちは。"),
        ({"accept-language": "sw"}, "en-US", "Hello."),
    ):
        assert (await send(api, person, "voice", headers)).status_code == 200
        call = twilio.calls[-1]
        assert call.says and {say.language for say in call.says} == {language}, call.says
        assert call.spoken.startswith(greeting) and call.pauses >= 1, call
