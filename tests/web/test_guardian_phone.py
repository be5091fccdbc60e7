"""Management API: the Guardian phone factor's configuration (auth0-api.md §3.3) — selected
provider, Twilio, templates, message types with the seeds' cross-rules, and settings — under
both ``/guardian/factors/phone/...`` and Auth0's legacy ``/guardian/factors/sms/...`` paths."""

from __future__ import annotations

from typing import Any

import pytest

from phonegate.clock import FrozenClock
from phonegate.container import Container
from tests.conftest import Api
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.shapes import mgmt_error

PREFIXES = ("/guardian/factors/phone", "/guardian/factors/sms")
MESSAGE_TYPES = "/guardian/factors/phone/message-types"
SERVICE_SID = "MG" + "0123456789abcdef" * 2
FROM = "+15005550006"
TWILIO = {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": FROM}
# Auth0's defaults on a fresh tenant (auth0-api.md §3.3).
DEFAULT_ENROLLMENT = (
    "{{code}} is your verification code for {{tenant.friendly_name}}. "
    "Please enter this code to verify your enrollment."
)
DEFAULT_VERIFICATION = "{{code}} is your verification code for {{tenant.friendly_name}}"

prefixes = pytest.mark.parametrize("prefix", PREFIXES, ids=["phone", "sms"])


async def ok(api: Api, method: str, path: str, body: Any = None) -> Any:
    r = await api.mgmt(method, path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def tenant_events(container: Container) -> list[Any]:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        return await uow.events.list(tenant.id, limit=500)


# --- selected provider ---------------------------------------------------------------------


@prefixes
async def test_selected_provider_round_trip(api: Api, prefix: str) -> None:
    path = f"{prefix}/selected-provider"
    other = next(p for p in PREFIXES if p != prefix)
    assert await ok(api, "GET", path) == {"provider": "sandbox"}  # bootstrap's choice
    for provider in ("auth0", "twilio", "phone-message-hook", "sandbox"):
        assert await ok(api, "PUT", path, {"provider": provider}) == {"provider": provider}
        assert await ok(api, "GET", path) == {"provider": provider}
        # The legacy path and the current one are one setting.
        assert await ok(api, "GET", f"{other}/selected-provider") == {"provider": provider}
    for bad in ("vonage", "Twilio", "", 42, ["twilio"]):
        body = mgmt_error(await api.mgmt("PUT", path, json={"provider": bad}), 400, "invalid_body")
        assert "auth0" in body["message"] and "phone-message-hook" in body["message"], body
    mgmt_error(await api.mgmt("PUT", path, json={}), 400, "invalid_body")
    assert await ok(api, "GET", path) == {"provider": "sandbox"}


# --- Twilio --------------------------------------------------------------------------------


@prefixes
async def test_twilio_is_write_only_and_merged(api: Api, container: Container, prefix: str) -> None:
    path = f"{prefix}/providers/twilio"
    assert await ok(api, "GET", path) == {
        "from": None,
        "messaging_service_sid": None,
        "sid": None,
        "auth_token": None,
        "auth_token_set": False,
    }
    saved = await api.mgmt("PUT", path, json=TWILIO)
    assert saved.status_code == 200, saved.text
    assert AUTH_TOKEN not in saved.text
    expected = {
        "from": FROM,
        "messaging_service_sid": None,
        "sid": ACCOUNT_SID,
        "auth_token": None,
        "auth_token_set": True,
    }
    assert saved.json() == expected

    # A partial PUT changes what it names and keeps the rest, the stored token included.
    assert await ok(api, "PUT", path, {"messaging_service_sid": SERVICE_SID}) == {
        **expected,
        "messaging_service_sid": SERVICE_SID,
    }
    assert await ok(api, "PUT", path, {"from": "+15005550007"}) == {
        **expected,
        "messaging_service_sid": SERVICE_SID,
        "from": "+15005550007",
    }
    for either in PREFIXES:
        r = await api.mgmt("GET", f"{either}/providers/twilio")
        assert r.status_code == 200 and AUTH_TOKEN not in r.text, r.text
        assert r.json()["auth_token"] is None and r.json()["auth_token_set"] is True
        assert r.json()["sid"] == ACCOUNT_SID and r.json()["from"] == "+15005550007"
    # The audit event names the fields that changed, never their values.
    updates = [e for e in await tenant_events(container) if e.type == "gd_tenant_update"]
    assert any(e.details.get("twilio") == ["auth_token", "from", "sid"] for e in updates)
    assert not any(AUTH_TOKEN in repr(e) for e in await tenant_events(container))


@prefixes
async def test_twilio_refusals(api: Api, prefix: str) -> None:
    path = f"{prefix}/providers/twilio"
    fresh = await ok(api, "GET", path)
    refused: list[dict[str, Any]] = [
        {**TWILIO, "sid": "AC123"},  # not an Account SID
        {**TWILIO, "sid": "SK" + "0" * 32},  # an API key, not the account
        {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},  # neither from nor a messaging service
        {**TWILIO, "from": "not a number!"},
        {**TWILIO, "messaging_service_sid": "MG42"},
        {"from": FROM},  # no credentials at all
        {**TWILIO, "region": "ie1"},  # not a field
        {**TWILIO, "auth_token": ""},
    ]
    for body in refused:
        r = await api.mgmt("PUT", path, json=body)
        error = mgmt_error(r, 400, "invalid_body")
        assert AUTH_TOKEN not in r.text, (body, error)
    r = await api.mgmt("PUT", path, json={"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN})
    assert "messaging_service_sid" in mgmt_error(r, 400)["message"]
    assert await ok(api, "GET", path) == fresh

    # Once saved, a refused change leaves the saved configuration as it was.
    saved = await ok(api, "PUT", path, TWILIO)
    mgmt_error(await api.mgmt("PUT", path, json={"sid": "AC123"}), 400, "invalid_body")
    mgmt_error(await api.mgmt("PUT", path, json={"from": "+1 (555)"}), 400, "invalid_body")
    assert await ok(api, "GET", path) == saved


# --- templates -----------------------------------------------------------------------------


@prefixes
async def test_templates_defaults_and_round_trip(api: Api, prefix: str) -> None:
    path = f"{prefix}/templates"
    defaults = {
        "enrollment_message": DEFAULT_ENROLLMENT,
        "verification_message": DEFAULT_VERIFICATION,
    }
    assert await ok(api, "GET", path) == defaults
    chosen = {
        "enrollment_message": "Enroll with {{ code }} at {{ tenant.friendly_name }}",
        "verification_message": "{{ code }} é o seu codigo",  # "é" is GSM-7, "ó" would not be
    }
    saved = await ok(api, "PUT", path, chosen)
    assert {k: saved[k] for k in chosen} == chosen
    assert saved["analysis"]["enrollment_message"] == {
        "encoding": "GSM-7",
        "segments": 1,
        "characters": len("Enroll with 924681 at phonegate"),
    }
    assert saved["analysis"]["verification_message"]["encoding"] == "GSM-7"
    other = next(p for p in PREFIXES if p != prefix)
    assert await ok(api, "GET", f"{other}/templates") == chosen

    # Anything outside GSM-7 makes the whole SMS UCS-2, and a long one takes more segments.
    saved = await ok(
        api,
        "PUT",
        path,
        {
            "enrollment_message": "{{ code }} は確認コードです",
            "verification_message": "{{ code }}" + " x" * 90,
        },
    )
    assert saved["analysis"]["enrollment_message"]["encoding"] == "UCS-2"
    assert saved["analysis"]["verification_message"] == {
        "encoding": "GSM-7",
        "segments": 2,
        "characters": 186,
    }
    # Sending Auth0's defaults back restores them.
    await ok(api, "PUT", path, defaults)
    assert await ok(api, "GET", path) == defaults


@prefixes
async def test_template_validation(api: Api, prefix: str) -> None:
    path = f"{prefix}/templates"
    good = "{{ code }} is your code"

    async def refused(enrollment: Any, verification: Any = good) -> str:
        body = {"enrollment_message": enrollment, "verification_message": verification}
        body = {k: v for k, v in body.items() if v is not None}
        message: str = mgmt_error(await api.mgmt("PUT", path, json=body), 400)["message"]
        return message

    assert "verification_message" in await refused(good, None)
    assert "enrollment_message" in await refused(None)
    # A syntax error says where it is.
    message = await refused("{{ code }} is your code\nfor {% if %} the app")
    assert "line 2" in message and "column" in message, message
    message = await refused("Your code:\n\n   {{ code | nope_filter }}")
    assert "line 3" in message, message
    message = await refused("{{ code }} for {{ tenant.friendly_name ")
    assert "line 1" in message, message
    # An unclosed block is noticed at the end of the template, which is where it points.
    message = await refused("{{ code }}\n{% if tenant %}\nfor {{ tenant.friendly_name }}")
    assert "endif" in message and "line 3, column 31" in message, message
    assert "nonsense" in await refused("{{ code }} {{ nonsense }}")
    assert "1600" in await refused("{{ code }}{% for i in (1..1000) %}abcde{% endfor %}")
    assert "{{ code }}" in await refused("Welcome to {{ tenant.friendly_name }}")
    assert "{{ code }}" in await refused(good, "no code here")
    for bad in ("", "   ", 42, ["{{ code }}"]):
        await refused(bad)
    extra = {"enrollment_message": good, "verification_message": good, "x": 1}
    assert "unknown" in mgmt_error(await api.mgmt("PUT", path, json=extra), 400)["message"]
    assert await ok(api, "GET", path) == {
        "enrollment_message": DEFAULT_ENROLLMENT,
        "verification_message": DEFAULT_VERIFICATION,
    }


# --- message types and the cross-rules -------------------------------------------------------


async def test_auth0_provider_cannot_carry_voice(api: Api) -> None:
    await ok(api, "PUT", "/guardian/factors/phone/selected-provider", {"provider": "auth0"})
    for types in (["voice"], ["sms", "voice"]):
        r = await api.mgmt("PUT", MESSAGE_TYPES, json={"message_types": types})
        assert "auth0" in mgmt_error(r, 400, "invalid_body")["message"]
    assert await ok(api, "GET", MESSAGE_TYPES) == {"message_types": ["sms"]}

    # The other way round: voice is on, so auth0 cannot be selected.
    await ok(api, "PUT", "/guardian/factors/phone/selected-provider", {"provider": "sandbox"})
    await ok(api, "PUT", MESSAGE_TYPES, {"message_types": ["sms", "voice"]})
    for prefix in PREFIXES:
        r = await api.mgmt("PUT", f"{prefix}/selected-provider", json={"provider": "auth0"})
        assert "voice" in mgmt_error(r, 400, "invalid_body")["message"]
    assert await ok(api, "GET", "/guardian/factors/phone/selected-provider") == {
        "provider": "sandbox"
    }


async def test_voice_through_twilio_needs_from(api: Api) -> None:
    twilio = "/guardian/factors/phone/providers/twilio"
    selected = "/guardian/factors/phone/selected-provider"
    await ok(
        api,
        "PUT",
        twilio,
        {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "messaging_service_sid": SERVICE_SID},
    )
    await ok(api, "PUT", selected, {"provider": "twilio"})
    for types in (["voice"], ["sms", "voice"]):
        r = await api.mgmt("PUT", MESSAGE_TYPES, json={"message_types": types})
        assert "from" in mgmt_error(r, 400, "invalid_body")["message"]
    assert await ok(api, "GET", MESSAGE_TYPES) == {"message_types": ["sms"]}
    # With a from number (the Messaging Service still sends the SMS), voice is allowed.
    await ok(api, "PUT", twilio, {"from": FROM})
    assert await ok(api, "PUT", MESSAGE_TYPES, {"message_types": ["sms", "voice"]}) == {
        "message_types": ["sms", "voice"]
    }


async def test_twilio_without_from_cannot_be_selected_while_voice_is_on(api: Api) -> None:
    twilio = "/guardian/factors/sms/providers/twilio"
    await ok(api, "PUT", MESSAGE_TYPES, {"message_types": ["sms", "voice"]})
    await ok(
        api,
        "PUT",
        twilio,
        {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "messaging_service_sid": SERVICE_SID},
    )
    r = await api.mgmt(
        "PUT", "/guardian/factors/sms/selected-provider", json={"provider": "twilio"}
    )
    assert "from" in mgmt_error(r, 400, "invalid_body")["message"]
    assert (await ok(api, "GET", "/guardian/factors/sms/selected-provider"))["provider"] == (
        "sandbox"
    )


async def test_twilio_selected_before_configured_still_needs_from_for_voice(api: Api) -> None:
    await ok(api, "PUT", MESSAGE_TYPES, {"message_types": ["voice"]})
    await ok(api, "PUT", "/guardian/factors/phone/selected-provider", {"provider": "twilio"})
    r = await api.mgmt(
        "PUT",
        "/guardian/factors/phone/providers/twilio",
        json={"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "messaging_service_sid": SERVICE_SID},
    )
    assert "from" in mgmt_error(r, 400, "invalid_body")["message"]
    assert (await ok(api, "GET", "/guardian/factors/phone/providers/twilio"))["sid"] is None


# --- settings ------------------------------------------------------------------------------


@prefixes
async def test_settings_round_trip_and_refusals(api: Api, prefix: str) -> None:
    path = f"{prefix}/settings"
    assert await ok(api, "GET", path) == {"otp_length": 6, "otp_expiration_time": 300}
    chosen = {"otp_length": 8, "otp_expiration_time": 600}
    assert await ok(api, "PUT", path, chosen) == chosen
    assert await ok(api, "PUT", path, {"otp_length": 4}) == {**chosen, "otp_length": 4}
    for bad in (
        {"otp_length": 3},
        {"otp_length": 11},
        {"otp_length": "6"},
        {"otp_length": True},
        {"otp_expiration_time": 59},
        {"otp_expiration_time": 3601},
        {"otp_expiration_time": 60.5},
        {"otp_lenght": 6},
    ):
        mgmt_error(await api.mgmt("PUT", path, json=bad), 400, "invalid_body")
    assert await ok(api, "GET", path) == {"otp_length": 4, "otp_expiration_time": 600}


async def test_otp_length_sets_the_next_codes_length(api: Api) -> None:
    await api.enable_mfa()
    await api.create_user()
    for length in (8, 4, 10):
        await ok(api, "PUT", "/guardian/factors/phone/settings", {"otp_length": length})
        r = await api.associate(await api.mfa_token())
        assert r.status_code == 200, r.text
        code = await api.last_code()
        assert len(code) == length and code.isdigit(), code


async def test_a_code_of_the_configured_length_is_accepted(api: Api) -> None:
    await api.enable_mfa()
    await ok(api, "PUT", "/guardian/factors/phone/settings", {"otp_length": 8})
    await api.enrolled_user()


async def test_otp_expiration_time_sets_the_next_codes_lifetime(
    api: Api, clock: FrozenClock
) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    await ok(api, "PUT", "/guardian/factors/sms/settings", {"otp_expiration_time": 120})

    token = await api.mfa_token()
    r = await api.challenge(token)
    assert r.status_code == 200, r.text
    clock.advance(121)
    r = await api.oob_grant(token, r.json()["oob_code"], await api.last_code())
    assert r.status_code == 403 and "expired" in r.json()["error_description"], r.text

    token = await api.mfa_token()
    r = await api.challenge(token)
    clock.advance(110)  # within the 120 s
    r = await api.oob_grant(token, r.json()["oob_code"], await api.last_code())
    assert r.status_code == 200, r.text


# --- scopes --------------------------------------------------------------------------------


async def test_read_scope_reads_and_cannot_write(api: Api) -> None:
    token = await api.management_token(scope="read:guardian_factors")
    headers = {"authorization": f"Bearer {token}"}
    writes: list[tuple[str, dict[str, Any]]] = [
        (MESSAGE_TYPES, {"message_types": ["sms", "voice"]}),
    ]
    for prefix in PREFIXES:
        writes += [
            (f"{prefix}/selected-provider", {"provider": "auth0"}),
            (f"{prefix}/providers/twilio", TWILIO),
            (
                f"{prefix}/templates",
                {"enrollment_message": "{{ code }}", "verification_message": "{{ code }}"},
            ),
            (f"{prefix}/settings", {"otp_length": 8}),
        ]
    before = {}
    for path, body in writes:
        r = await api.client.get("/api/v2" + path, headers=headers)
        assert r.status_code == 200, (path, r.text)
        before[path] = r.json()
        r = await api.client.put("/api/v2" + path, headers=headers, json=body)
        mgmt_error(r, 403, "insufficient_scope")
    for path, _ in writes:
        assert await ok(api, "GET", path) == before[path], path
