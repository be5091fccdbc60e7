"""Management API: Branding phone providers and templates, the Unified Phone Experience
(auth0-api.md §3.6-3.7): write-only credentials, the one-provider rule, loud disabling, test
sends through a Twilio fake, and templates with per-locale translations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.settings import Settings
from tests.conftest import Api, make_settings
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.shapes import assert_error, mgmt_error
from tests.web.test_guardian_phone import FROM, ok, tenant_events

PROVIDERS = "/branding/phone/providers"
TEMPLATES = "/branding/phone/templates"
TO = "+14155550123"
TRY_ACCEPTED = "Test notification successfully sent for processing"
TEST_SMS = "This is a test message from phonegate: your phone provider is set up."
TEMPLATE_TYPES = [
    "otp_verify",
    "otp_enroll",
    "change_password",
    "blocked_account",
    "password_breach",
]
VERIFY_VOICE = (
    "Hello. Your verification code for {{ friendly_name | escape }} is {{ pause }} "
    "{{ code | escape }}. I repeat, your verification code is {{ pause }} {{ code | escape }}"
)
# Auth0's default bodies, from a live GET (auth0-api.md §3.7).
DEFAULT_BODIES = {
    "otp_verify": {
        "text": "{{ code | escape }} is your verification code for {{ friendly_name | escape }}",
        "voice": VERIFY_VOICE,
    },
    "otp_enroll": {
        "text": "{{ code | escape }} is your verification code for {{ friendly_name | escape }}. "
        "Please enter this code to verify your enrollment.",
        "voice": VERIFY_VOICE,
    },
    "change_password": {
        "text": "{{ code | escape }} is your password change code for {{ friendly_name | escape }}",
        "voice": "Hello. Your password change code for {{ friendly_name | escape }} is "
        "{{ pause }} {{ code | escape }}. I repeat, your password change code is {{ pause }} "
        "{{ code | escape }}",
    },
    "blocked_account": {
        "text": "We detected suspicious activity on your account from the ip {{user.source_ip}}"
        "{% if user.city %} from {{user.city}}, {{user.country}}{% elsif user.country %} from "
        "{{user.country}}{% endif %}. Logins from this IP have been blocked on your account. If "
        "this is your IP, please reset your password to unblock your account. Otherwise, "
        "disregard this message.",
    },
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The vendor fakes listen on 127.0.0.1, which the outbound guard refuses by default.
    return make_settings(database_url, tmp_path, outbound_allow_private=True)


@pytest.fixture(scope="module")
def running_twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def twilio(running_twilio: TwilioFake) -> Iterator[TwilioFake]:
    running_twilio.reset()
    yield running_twilio
    assert running_twilio.spec_errors == []


def twilio_provider(fake: TwilioFake, **configuration: Any) -> dict[str, Any]:
    """A Branding Twilio provider (Auth0's create body) pointed at the fake."""
    return {
        "name": "twilio",
        "credentials": {"auth_token": AUTH_TOKEN},
        "configuration": {
            "sid": ACCOUNT_SID,
            "default_from": FROM,
            "delivery_methods": ["text", "voice"],
            "base_url": fake.url,
            **configuration,
        },
    }


async def create(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.mgmt("POST", path, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def provider_error(r: httpx.Response, status: int, error_code: str) -> dict[str, Any]:
    """A failed /try: the Management error shape plus the provider's own answer."""
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"statusCode", "error", "message", "errorCode", "provider"}, body
    assert body["statusCode"] == status and body["errorCode"] == error_code, body
    assert body["error"] == httpx.codes.get_reason_phrase(status), body
    assert body["provider"]["ok"] is False, body
    return body


# --- providers -----------------------------------------------------------------------------


async def test_provider_lifecycle_keeps_the_credential_write_only(
    api: Api, clock: FrozenClock, twilio: TwilioFake
) -> None:
    sent = twilio_provider(twilio)
    r = await api.mgmt("POST", PROVIDERS, json=sent)
    assert r.status_code == 201 and AUTH_TOKEN not in r.text, r.text
    created = r.json()
    assert created["id"].startswith("pro_") and created["tenant"] == "default"
    assert {k: created[k] for k in ("name", "channel", "disabled", "configuration")} == {
        "name": "twilio",
        "channel": "phone",
        "disabled": False,
        "configuration": sent["configuration"],
    }
    assert created["credentials_set"] == ["auth_token"] and "warnings" not in created
    assert created["created_at"] == created["updated_at"]
    provider = f"{PROVIDERS}/{created['id']}"

    # One tenant phone provider: a second create is a conflict, whatever its name.
    for second in (twilio_provider(twilio), {"name": "custom", "configuration": {}}):
        mgmt_error(await api.mgmt("POST", PROVIDERS, json=second), 409, "phone_provider_exists")

    for path, params in ((provider, {}), (PROVIDERS, {}), (PROVIDERS, {"disabled": "false"})):
        r = await api.mgmt("GET", path, params=params)
        assert r.status_code == 200 and AUTH_TOKEN not in r.text, r.text
    assert (await ok(api, "GET", PROVIDERS))["providers"] == [created]
    assert (await ok(api, "GET", f"{PROVIDERS}?disabled=true"))["providers"] == []
    mgmt_error(await api.mgmt("GET", PROVIDERS, params={"disabled": "yes"}), 400)

    # PATCH merges the configuration and keeps the stored token: the fake, which checks
    # Twilio's Basic auth, accepts the test send from the new number.
    r = await api.mgmt("PATCH", provider, json={"configuration": {"default_from": "+14155550100"}})
    assert r.status_code == 200 and AUTH_TOKEN not in r.text, r.text
    assert r.json()["configuration"] == {**sent["configuration"], "default_from": "+14155550100"}
    assert r.json()["credentials_set"] == ["auth_token"]
    r = await api.mgmt("POST", f"{provider}/try", json={"to": TO, "delivery_method": "text"})
    assert r.status_code == 202, r.text
    assert twilio.messages[-1].from_ == "+14155550100"

    # A new token replaces the old; a wrong one is the operator's problem, said without it.
    wrong = "wrong-auth-token-0000000000000000"
    clock.advance(1)  # provider instances are cached per row version, its updated_at
    r = await api.mgmt("PATCH", provider, json={"credentials": {"auth_token": wrong}})
    assert r.status_code == 200 and wrong not in r.text, r.text
    r = await api.mgmt("POST", f"{provider}/try", json={"to": TO})
    body = provider_error(r, 400, "provider_misconfigured")
    assert body["provider"]["code"] == "20003" and wrong not in r.text and AUTH_TOKEN not in r.text

    r = await api.mgmt("DELETE", provider)
    assert r.status_code == 204 and r.content == b"", r.text
    for method in ("GET", "DELETE"):
        r = await api.mgmt(method, provider)
        mgmt_error(r, 404, message="Notification Resource not found")
    assert (await ok(api, "GET", PROVIDERS))["providers"] == []


async def test_provider_refusals(api: Api, twilio: TwilioFake) -> None:
    good = twilio_provider(twilio)
    config = good["configuration"]
    no_from = {k: v for k, v in config.items() if k != "default_from"}
    refused: list[tuple[dict[str, Any], str]] = [
        # Voice needs a from number, even when a Messaging Service sends the SMS.
        ({**good, "configuration": {**no_from, "mssid": "MG" + "0" * 32}}, "from"),
        ({**good, "name": "nexmo"}, "name"),
        ({**good, "name": None}, "name"),
        # The credential belongs in credentials, which are never returned.
        ({**good, "configuration": {**config, "auth_token": AUTH_TOKEN}}, "credentials"),
        ({**good, "configuration": {**config, "sid": "AC1"}}, "sid"),
        ({**good, "configuration": {**config, "delivery_methods": ["sms"]}}, "delivery_methods"),
        ({**good, "configuration": {**config, "delivery_methods": []}}, "delivery_methods"),
        ({**good, "configuration": {**config, "region": "ie1"}}, "region"),
        ({**good, "credentials": {}}, "auth_token"),
        ({**good, "credentials": {"auth_token": AUTH_TOKEN, "password": "x"}}, "password"),
        ({**good, "disabled": "no"}, "disabled"),
    ]
    for body, named in refused:
        r = await api.mgmt("POST", PROVIDERS, json=body)
        error = mgmt_error(r, 400)
        assert named in error["message"], (body, error)
        assert AUTH_TOKEN not in r.text, error
    assert (await ok(api, "GET", PROVIDERS))["providers"] == []

    # On a saved provider, a refused PATCH changes nothing.
    saved = await create(
        api,
        PROVIDERS,
        {
            **good,
            "configuration": {**no_from, "mssid": "MG" + "0" * 32, "delivery_methods": ["text"]},
        },
    )
    provider = f"{PROVIDERS}/{saved['id']}"
    r = await api.mgmt(
        "PATCH", provider, json={"configuration": {"delivery_methods": ["text", "voice"]}}
    )
    assert "from" in mgmt_error(r, 400, "invalid_body")["message"]
    r = await api.mgmt("PATCH", provider, json={"configuration": {"auth_token": "leak"}})
    assert "leak" not in mgmt_error(r, 400, "invalid_body")["message"]
    assert await ok(api, "GET", provider) == saved


async def test_voice_types_need_a_voice_capable_tenant_provider(
    api: Api, twilio: TwilioFake
) -> None:
    saved = await create(api, PROVIDERS, twilio_provider(twilio))
    await ok(
        api, "PUT", "/guardian/factors/phone/message-types", {"message_types": ["sms", "voice"]}
    )
    r = await api.mgmt(
        "PATCH",
        f"{PROVIDERS}/{saved['id']}",
        json={"configuration": {"delivery_methods": ["text"]}},
    )
    assert "message-types" in mgmt_error(r, 400, "invalid_body")["message"]
    await ok(api, "PUT", "/guardian/factors/phone/message-types", {"message_types": ["sms"]})
    await ok(
        api,
        "PATCH",
        f"{PROVIDERS}/{saved['id']}",
        {"configuration": {"delivery_methods": ["text"]}},
    )
    r = await api.mgmt(
        "PUT", "/guardian/factors/phone/message-types", json={"message_types": ["voice"]}
    )
    assert "delivery_methods" in mgmt_error(r, 400, "invalid_body")["message"]


async def test_disabling_breaks_mfa_loudly_and_deleting_restores_guardian(
    api: Api, container: Container, twilio: TwilioFake
) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    provider = f"{PROVIDERS}/{(await create(api, PROVIDERS, twilio_provider(twilio)))['id']}"

    disabled = await ok(api, "PATCH", provider, {"disabled": True})
    assert disabled["disabled"] is True
    [warning] = disabled["warnings"]
    assert "disabled" in warning and "MFA with the phone factor" in warning, warning
    assert "passwordless" in warning, warning
    assert (await ok(api, "GET", provider))["warnings"] == [warning]

    inbox_before = len(await api.inbox())
    r = await api.challenge(await api.mfa_token())
    body = assert_error(r, 400, "invalid_request")
    assert "tenant phone provider" in body["error_description"]
    assert "disabled" in body["error_description"]
    types = [e.type for e in await tenant_events(container)]
    assert "gd_send_sms_failure" in types and "pg_provider_misconfigured" in types, types
    assert twilio.messages == [] and len(await api.inbox()) == inbox_before

    # Enabled again, it carries the code.
    assert "warnings" not in await ok(api, "PATCH", provider, {"disabled": False})
    r = await api.challenge(await api.mfa_token())
    assert r.status_code == 200, r.text
    assert len(twilio.messages) == 1 and twilio.messages[0].to == "+14155550123"

    # Deleted, the Guardian provider (the sandbox) serves again.
    assert (await api.mgmt("DELETE", provider)).status_code == 204
    r = await api.challenge(await api.mfa_token())
    assert r.status_code == 200, r.text
    assert len(twilio.messages) == 1 and len(await api.inbox()) == inbox_before + 1


async def test_try_sends_through_twilio_and_reports_its_answer(
    api: Api, twilio: TwilioFake
) -> None:
    provider = f"{PROVIDERS}/{(await create(api, PROVIDERS, twilio_provider(twilio)))['id']}"
    # Auth0's examples send the number without its "+".
    r = await api.mgmt("POST", f"{provider}/try", json={"to": TO[1:], "delivery_method": "text"})
    assert r.status_code == 202, r.text
    [sms] = twilio.messages
    assert r.json() == {
        "code": 202,
        "message": TRY_ACCEPTED,
        "provider": {
            "name": "twilio",
            "ok": True,
            "status": "queued",
            "message_id": sms.sid,
        },
    }
    assert (sms.to, sms.from_, sms.body) == (TO, FROM, TEST_SMS)

    r = await api.mgmt("POST", f"{provider}/try", json={"to": TO, "delivery_method": "voice"})
    assert r.status_code == 202, r.text
    [call] = twilio.calls
    assert r.json()["provider"]["message_id"] == call.sid
    assert "test call from phonegate" in call.spoken and call.from_ == FROM

    # Twilio refuses the number: a 400 carrying Twilio's code and message.
    r = await api.mgmt("POST", f"{provider}/try", json={"to": "+15005550001"})
    body = provider_error(r, 400, "provider_rejected")
    assert body["provider"]["code"] == "21211" and body["provider"]["kind"] == "rejected"
    assert "not a valid phone number" in body["message"]
    twilio.fail_next(503)
    provider_error(
        await api.mgmt("POST", f"{provider}/try", json={"to": TO}), 503, "provider_retryable"
    )

    for bad in ({"to": TO, "delivery_method": "fax"}, {"to": "not a number"}, {}):
        mgmt_error(await api.mgmt("POST", f"{provider}/try", json=bad), 400)
    mgmt_error(await api.mgmt("POST", f"{PROVIDERS}/pro_nothere/try", json={"to": TO}), 404)
    assert len(twilio.messages) == 1 and len(twilio.calls) == 1


async def test_custom_provider_needs_a_bound_action(api: Api) -> None:
    created = await create(
        api,
        PROVIDERS,
        {"name": "custom", "configuration": {"delivery_methods": ["text"]}, "credentials": {}},
    )
    assert created["name"] == "custom" and created["credentials_set"] == []
    r = await api.mgmt("POST", f"{PROVIDERS}/{created['id']}/try", json={"to": TO})
    mgmt_error(r, 400, "custom_phone_provider_action_not_found")


async def test_phonegate_vendor_as_tenant_provider(api: Api) -> None:
    secret = "vonage-api-secret-5e1f"
    configuration = {"api_key": "abcd1234", "from": "Phonegate", "delivery_methods": ["text"]}
    body = {"name": "vonage", "configuration": configuration, "credentials": {"api_secret": secret}}
    for refusal in (
        {**body, "configuration": {**configuration, "api_secret": secret}},
        {**body, "configuration": {**configuration, "delivery_methods": ["text", "voice"]}},
        {**body, "configuration": {**configuration, "from": "far too long a sender"}},
        {**body, "configuration": {**configuration, "sid": ACCOUNT_SID}},
        {**body, "credentials": {}},
    ):
        r = await api.mgmt("POST", PROVIDERS, json=refusal)
        mgmt_error(r, 400, "invalid_body")
        assert secret not in r.text
    r = await api.mgmt("POST", PROVIDERS, json=body)
    assert r.status_code == 201 and secret not in r.text, r.text
    assert r.json()["name"] == "vonage" and r.json()["configuration"] == configuration
    assert r.json()["credentials_set"] == ["api_secret"]


async def test_provider_scopes(api: Api, twilio: TwilioFake) -> None:
    saved = await create(api, PROVIDERS, twilio_provider(twilio))
    token = await api.management_token(scope="read:phone_providers")
    headers = {"authorization": f"Bearer {token}"}
    r = await api.client.get(f"/api/v2{PROVIDERS}", headers=headers)
    assert r.status_code == 200 and AUTH_TOKEN not in r.text, r.text
    for method, path, body in (
        ("POST", PROVIDERS, twilio_provider(twilio)),
        ("PATCH", f"{PROVIDERS}/{saved['id']}", {"disabled": True}),
        ("DELETE", f"{PROVIDERS}/{saved['id']}", None),
        ("POST", f"{PROVIDERS}/{saved['id']}/try", {"to": TO}),
    ):
        r = await api.client.request(method, f"/api/v2{path}", headers=headers, json=body)
        mgmt_error(r, 403, "insufficient_scope")
    assert await ok(api, "GET", f"{PROVIDERS}/{saved['id']}") == saved and twilio.messages == []


# --- templates -----------------------------------------------------------------------------


async def test_template_list_shows_every_type_with_auth0_defaults(api: Api) -> None:
    templates = (await ok(api, "GET", TEMPLATES))["templates"]
    assert sorted(t["type"] for t in templates) == sorted(TEMPLATE_TYPES)
    for template in templates:
        assert "id" not in template, template  # defaults have no id until customised
        assert template["disabled"] is False and template["channel"] == "phone", template
        assert template["tenant"] == "default" and template["translations"] == {}
        assert template["content"]["syntax"] == "liquid" and template["content"]["from"] == ""
        expected = DEFAULT_BODIES.get(template["type"], {})
        for field, text in expected.items():
            assert template["content"]["body"][field] == text, (template["type"], field)
    assert (await ok(api, "GET", f"{TEMPLATES}?disabled=true"))["templates"] == []


async def test_template_lifecycle(api: Api) -> None:
    body = {"type": "otp_verify", "content": {"body": {"text": "Code {{ code }}"}}}
    created = await create(api, TEMPLATES, body)
    assert created["id"].startswith("tem_") and created["type"] == "otp_verify"
    assert created["content"]["body"] == {"text": "Code {{ code }}", "voice": VERIFY_VOICE}
    assert created["analysis"] == {
        "body.text": {"encoding": "GSM-7", "segments": 1, "characters": len("Code 924681")}
    }
    template = f"{TEMPLATES}/{created['id']}"
    r = await api.mgmt("POST", TEMPLATES, json=body)
    mgmt_error(r, 409, "phone_template_exists")
    shown = {k: v for k, v in created.items() if k != "analysis"}
    assert await ok(api, "GET", template) == shown
    listed = (await ok(api, "GET", TEMPLATES))["templates"]
    assert {t["type"]: t.get("id") for t in listed} == {
        **dict.fromkeys(TEMPLATE_TYPES),
        "otp_verify": created["id"],
    }

    patched = await ok(
        api,
        "PATCH",
        template,
        {
            "content": {
                "from": "Phonegate",
                "body": {"voice": "Your code is {{ pause }} {{ code }}"},
            }
        },
    )
    assert patched["content"] == {
        "syntax": "liquid",
        "from": "Phonegate",
        "body": {"text": "Code {{ code }}", "voice": "Your code is {{ pause }} {{ code }}"},
    }
    assert patched["analysis"] == {
        "body.voice": {"characters": len("Your code is ... 9, 2, 4, 6, 8, 1")}
    }
    mgmt_error(await api.mgmt("PATCH", template, json={"type": "otp_enroll"}), 400, "invalid_body")
    assert (await ok(api, "PATCH", template, {"disabled": True}))["disabled"] is True
    assert [t["id"] for t in (await ok(api, "GET", f"{TEMPLATES}?disabled=true"))["templates"]] == [
        created["id"]
    ]

    reset = await ok(api, "PATCH", f"{template}/reset", {})
    assert reset["id"] == created["id"] and reset["translations"] == {}
    assert reset["content"] == {
        "syntax": "liquid",
        "from": "",
        "body": DEFAULT_BODIES["otp_verify"],
    }

    r = await api.mgmt("DELETE", template)
    assert r.status_code == 204, r.text
    for method in ("GET", "DELETE"):
        mgmt_error(await api.mgmt(method, template), 404, message="Notification Resource not found")
    mgmt_error(await api.mgmt("PATCH", f"{template}/reset", json={}), 404)
    assert [t for t in (await ok(api, "GET", TEMPLATES))["templates"] if "id" in t] == []


async def test_template_translations(api: Api) -> None:
    translations = {
        "fr": {"text": "{{ code }} est votre code"},
        "pt-BR": {"voice": "Seu código é {{ pause }} {{ code }}"},
    }
    created = await create(api, TEMPLATES, {"type": "otp_enroll", "translations": translations})
    assert created["translations"] == translations
    assert created["content"]["body"] == DEFAULT_BODIES["otp_enroll"]
    assert set(created["analysis"]) == {"translations.fr.text", "translations.pt-BR.voice"}
    template = f"{TEMPLATES}/{created['id']}"
    assert (await ok(api, "GET", template))["translations"] == translations
    # PATCH replaces the set of translations.
    replaced = {"de": {"text": "{{ code }} ist Ihr Code"}}
    assert (await ok(api, "PATCH", template, {"translations": replaced}))[
        "translations"
    ] == replaced
    for bad in (
        {"not a tag": {"text": "{{ code }}"}},
        {"fr": "{{ code }}"},
        ["fr"],
        {"fr": {"sms": "{{ code }}"}},
    ):
        mgmt_error(
            await api.mgmt("PATCH", template, json={"translations": bad}), 400, "invalid_body"
        )
    assert (await ok(api, "GET", template))["translations"] == replaced


async def test_template_validation_points_at_the_problem(api: Api) -> None:
    async def refused(body: dict[str, Any]) -> str:
        message: str = mgmt_error(await api.mgmt("POST", TEMPLATES, json=body), 400)["message"]
        return message

    def otp(**fields: Any) -> dict[str, Any]:
        return {"type": "otp_verify", **fields}

    message = await refused(otp(content={"body": {"text": "{{ code }}\n{% if %} more"}}))
    assert "content.body.text" in message and "line 2" in message, message
    message = await refused(otp(translations={"fr": {"voice": "Bonjour\n\n{{ code | nope }}"}}))
    assert "translations.fr.voice" in message and "line 3" in message, message
    assert "nonsense" in await refused(otp(content={"body": {"text": "{{ code }} {{ nonsense }}"}}))
    assert "1600" in await refused(
        otp(content={"body": {"text": "{{ code }}{% for i in (1..1000) %}abcde{% endfor %}"}})
    )
    assert "{{ code }}" in await refused(otp(content={"body": {"voice": "Hello there"}}))
    assert "{{ code }}" in await refused(
        {"type": "otp_enroll", "content": {"body": {"text": "Welcome"}}}
    )
    assert "type" in await refused({"type": "sms", "content": {"body": {"text": "{{ code }}"}}})
    assert "syntax" in await refused(otp(content={"syntax": "handlebars"}))
    assert "subject" in await refused(otp(content={"subject": "x"}))
    assert "from" in await refused(otp(content={"from": "x" * 40}))
    assert [t.get("id") for t in (await ok(api, "GET", TEMPLATES))["templates"]] == [None] * 5
    # Texts without a code are fine where no code is sent.
    await create(
        api, TEMPLATES, {"type": "password_breach", "content": {"body": {"text": "Reset now"}}}
    )


async def test_template_try_renders_and_sends(api: Api) -> None:
    created = await create(
        api,
        TEMPLATES,
        {
            "type": "otp_verify",
            "content": {"body": {"text": "Your code: {{ code }}"}},
            "translations": {"fr": {"text": "Votre code : {{ code }}"}},
        },
    )
    path = f"{TEMPLATES}/{created['id']}/try"
    r = await api.mgmt(
        "POST", path, json={"to": TO}, headers={"accept-language": "fr-CA, en;q=0.5"}
    )
    assert r.status_code == 202, r.text
    answer = r.json()
    assert (answer["code"], answer["message"]) == (202, TRY_ACCEPTED)
    assert (answer["locale"], answer["source"]) == ("fr", "branding template (fr)")
    assert answer["analysis"] == {"encoding": "GSM-7", "segments": 1, "characters": 19}
    [sent] = await api.inbox()
    assert (sent["recipient"], sent["text"]) == (TO, "Votre code : 924681")

    r = await api.mgmt("POST", path, json={"to": TO, "delivery_method": "text"})
    assert (r.json()["locale"], r.json()["source"]) == ("en", "branding template")
    assert (await api.inbox())[0]["text"] == "Your code: 924681"

    r = await api.mgmt("POST", path, json={"to": TO, "delivery_method": "voice"})
    assert r.status_code == 202 and "analysis" not in r.json(), r.text
    newest = (await api.inbox())[0]
    assert newest["channel"] == "voice" and "9, 2, 4, 6, 8, 1" in newest["text"], newest


async def test_concurrent_creates_make_one_provider_and_one_template(
    api: Api, twilio: TwilioFake
) -> None:
    # Check-then-insert would let both through on PostgreSQL (or fail one with a 500).
    await api.management_token()
    results = await asyncio.gather(
        *(
            api.mgmt("POST", "/branding/phone/providers", json=twilio_provider(twilio))
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in results) == [201] + [409] * 5, [r.text for r in results]
    template = {"type": "otp_verify", "content": {"body": {"text": "{{ code }} is it"}}}
    results = await asyncio.gather(
        *(api.mgmt("POST", "/branding/phone/templates", json=template) for _ in range(6))
    )
    assert sorted(r.status_code for r in results) == [201] + [409] * 5, [r.text for r in results]
