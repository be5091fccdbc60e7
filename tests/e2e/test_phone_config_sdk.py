"""The phone factor's configuration through the official auth0-python 6.8 management client,
unchanged, against a live phonegate (auth0-api.md §6.2): every call answers with the SDK's
typed models (which the SDK validates, raising ParsingError otherwise), and refusals raise the
SDK's own error classes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from auth0.authentication import GetToken
from auth0.management import (
    Auth0,
    CustomProviderConfiguration,
    CustomProviderCredentials,
    PartialPhoneTemplateContent,
    PhoneTemplateBody,
    PhoneTemplateContent,
    TwilioProviderConfiguration,
    TwilioProviderCredentials,
)
from auth0.management.core.api_error import ApiError
from auth0.management.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)

from tests.e2e.conftest import LiveServer
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.web import test_branding_phone as branding
from tests.web.test_guardian_phone import DEFAULT_ENROLLMENT, DEFAULT_VERIFICATION, FROM

TO = "+14155550123"
# The Twilio fake, shared with the Branding API tests.
running_twilio = branding.running_twilio
twilio = branding.twilio


@pytest.fixture
def server(
    monkeypatch: pytest.MonkeyPatch, database_url: str, request: pytest.FixtureRequest
) -> LiveServer:
    # The Twilio fake listens on 127.0.0.1, which the outbound guard refuses unless the
    # operator allows it; set before the live server reads its settings.
    monkeypatch.setenv("PHONEGATE_OUTBOUND_ALLOW_PRIVATE", "true")
    live: LiveServer = request.getfixturevalue("live_server")
    return live


def management_token(server: LiveServer, scope: str | None = None) -> str:
    creds = server.creds
    token_client = GetToken(
        server.domain,
        creds.management_client_id,
        creds.management_client_secret,
        protocol="http",
    )
    if scope is None:
        token: str = token_client.client_credentials(creds.audience)["access_token"]
        return token
    # client_credentials() cannot narrow the scope; the same grant, sent as the SDK sends it.
    narrowed: dict[str, str] = token_client.authenticated_post(
        f"{server.url}/oauth/token",
        {
            "client_id": creds.management_client_id,
            "grant_type": "client_credentials",
            "audience": creds.audience,
            "scope": scope,
        },
    )
    return narrowed["access_token"]


@pytest.fixture
def mgmt(server: LiveServer) -> Auth0:
    # No retries: the Fern client would re-send a 409 twice before raising it.
    return Auth0(base_url=f"{server.url}/api/v2", token=management_token(server), max_retries=0)


def error_body(caught: pytest.ExceptionInfo[ApiError]) -> dict[str, Any]:
    body: dict[str, Any] = caught.value.body
    assert body["statusCode"] == caught.value.status_code, body
    return body


def test_guardian_phone_configuration(server: LiveServer, mgmt: Auth0) -> None:
    phone = mgmt.guardian.factors.phone
    assert phone.get_selected_provider().provider == "sandbox"
    assert phone.set_provider(provider="auth0").provider == "auth0"
    with pytest.raises(BadRequestError) as caught:
        phone.set_message_types(message_types=["sms", "voice"])
    assert "auth0" in error_body(caught)["message"]
    with pytest.raises(BadRequestError):
        phone.set_provider(provider="vonage")
    assert phone.set_provider(provider="sandbox").provider == "sandbox"
    assert list(phone.set_message_types(message_types=["sms", "voice"]).message_types or []) == [
        "sms",
        "voice",
    ]
    assert list(phone.get_message_types().message_types or []) == ["sms", "voice"]

    fresh = phone.get_twilio_provider()
    assert (fresh.sid, fresh.from_, fresh.auth_token) == (None, None, None)
    saved = phone.set_twilio_provider(sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=FROM)
    assert (saved.sid, saved.from_, saved.auth_token) == (ACCOUNT_SID, FROM, None)
    shown = phone.get_twilio_provider()
    assert shown.auth_token is None and AUTH_TOKEN not in shown.model_dump_json()
    assert shown.model_extra == {"auth_token_set": True}
    with pytest.raises(BadRequestError):
        phone.set_twilio_provider(sid="AC1")

    templates = phone.get_templates()
    assert (templates.enrollment_message, templates.verification_message) == (
        DEFAULT_ENROLLMENT,
        DEFAULT_VERIFICATION,
    )
    chosen = phone.set_templates(
        enrollment_message="Enroll {{ code }}", verification_message="Verify {{ code }}"
    )
    assert (chosen.enrollment_message, chosen.verification_message) == (
        "Enroll {{ code }}",
        "Verify {{ code }}",
    )
    with pytest.raises(BadRequestError) as caught:
        phone.set_templates(
            enrollment_message="{{ code }}\n{% if %}", verification_message="{{ code }}"
        )
    assert "line 2" in error_body(caught)["message"]

    assert (phone.get().otp_length, phone.get().otp_expiration_time) == (6, 300)
    settings = phone.set(otp_length=8, otp_expiration_time=600)
    assert (settings.otp_length, settings.otp_expiration_time) == (8, 600)
    with pytest.raises(BadRequestError):
        phone.set(otp_length=3, otp_expiration_time=600)

    # A read-only token reads, and is refused every write.
    reader = Auth0(
        base_url=f"{server.url}/api/v2",
        token=management_token(server, "read:guardian_factors"),
        max_retries=0,
    )
    assert reader.guardian.factors.phone.get_selected_provider().provider == "sandbox"
    with pytest.raises(ForbiddenError):
        reader.guardian.factors.phone.set_provider(provider="auth0")
    with pytest.raises(ForbiddenError):
        reader.guardian.factors.sms.set_templates(
            enrollment_message="{{ code }}", verification_message="{{ code }}"
        )


def test_legacy_sms_paths(mgmt: Auth0) -> None:
    sms, phone = mgmt.guardian.factors.sms, mgmt.guardian.factors.phone
    assert sms.get_selected_provider().provider == "sandbox"
    assert sms.set_provider(provider="phone-message-hook").provider == "phone-message-hook"
    assert phone.get_selected_provider().provider == "phone-message-hook"
    with pytest.raises(BadRequestError):
        sms.set_provider(provider="nope")

    saved = sms.set_twilio_provider(
        sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, messaging_service_sid="MG" + "a" * 32
    )
    assert (saved.sid, saved.messaging_service_sid, saved.auth_token) == (
        ACCOUNT_SID,
        "MG" + "a" * 32,
        None,
    )
    # A partial update keeps the rest.
    assert sms.set_twilio_provider(from_=FROM).messaging_service_sid == "MG" + "a" * 32
    assert phone.get_twilio_provider().from_ == FROM
    with pytest.raises(BadRequestError):
        sms.set_twilio_provider(sid="SK" + "0" * 32)

    assert sms.get_templates().verification_message == DEFAULT_VERIFICATION
    sms.set_templates(enrollment_message="E {{ code }}", verification_message="V {{ code }}")
    assert phone.get_templates().verification_message == "V {{ code }}"
    with pytest.raises(BadRequestError):
        sms.set_templates(enrollment_message="no code", verification_message="{{ code }}")


def test_branding_phone_providers(mgmt: Auth0, twilio: TwilioFake) -> None:
    providers = mgmt.branding.phone.providers
    assert list(providers.list().providers or []) == []
    configuration = TwilioProviderConfiguration(
        sid=ACCOUNT_SID,
        default_from=FROM,
        delivery_methods=["text", "voice"],
        base_url=twilio.url,  # phonegate's addition, for regional endpoints and fakes
    )
    created = providers.create(
        name="twilio",
        credentials=TwilioProviderCredentials(auth_token=AUTH_TOKEN),
        configuration=configuration,
    )
    assert created.id and created.name == "twilio" and created.disabled is False
    assert isinstance(created.configuration, TwilioProviderConfiguration)
    assert created.configuration.sid == ACCOUNT_SID
    assert AUTH_TOKEN not in created.model_dump_json()
    with pytest.raises(ConflictError):
        providers.create(
            name="twilio",
            credentials=TwilioProviderCredentials(auth_token=AUTH_TOKEN),
            configuration=configuration,
        )
    listed = providers.list().providers or []
    assert [p.id for p in listed] == [created.id]
    assert providers.get(created.id).configuration == created.configuration

    answer = providers.test(created.id, to=TO, delivery_method="text")
    assert (answer.code, answer.message) == (202, branding.TRY_ACCEPTED)
    assert twilio.messages[-1].to == TO and twilio.messages[-1].body == branding.TEST_SMS
    with pytest.raises(BadRequestError) as caught:
        providers.test(created.id, to="+15005550001")
    assert error_body(caught)["provider"]["code"] == "21211"

    updated = providers.update(
        created.id,
        configuration=TwilioProviderConfiguration(
            sid=ACCOUNT_SID, default_from="+14155550100", delivery_methods=["text"]
        ),
    )
    assert isinstance(updated.configuration, TwilioProviderConfiguration)
    assert (updated.configuration.default_from, updated.configuration.delivery_methods) == (
        "+14155550100",
        ["text"],
    )
    mgmt.guardian.factors.set("sms", enabled=True)
    disabled = providers.update(created.id, disabled=True)
    assert disabled.disabled is True and disabled.model_extra is not None
    [warning] = disabled.model_extra["warnings"]
    assert "MFA with the phone factor" in warning, warning

    assert providers.delete(created.id) is None
    with pytest.raises(NotFoundError):
        providers.get(created.id)

    # Voice needs a from number, even when a Messaging Service sends the SMS.
    with pytest.raises(BadRequestError) as caught:
        providers.create(
            name="twilio",
            credentials=TwilioProviderCredentials(auth_token=AUTH_TOKEN),
            configuration=TwilioProviderConfiguration(
                sid=ACCOUNT_SID, mssid="MG" + "0" * 32, delivery_methods=["text", "voice"]
            ),
        )
    assert "from" in error_body(caught)["message"]
    custom = providers.create(
        name="custom",
        credentials=CustomProviderCredentials(),
        configuration=CustomProviderConfiguration(delivery_methods=["text"]),
    )
    with pytest.raises(BadRequestError) as caught:
        providers.test(custom.id, to=TO)
    assert error_body(caught)["errorCode"] == "custom_phone_provider_action_not_found"


def test_branding_phone_templates(server: LiveServer, mgmt: Auth0) -> None:
    templates = mgmt.branding.phone.templates
    listed = templates.list().templates or []
    assert sorted(t.type for t in listed) == sorted(branding.TEMPLATE_TYPES)
    assert all(t.id is None and t.content.body is not None for t in listed)

    created = templates.create(
        type="otp_verify",
        content=PhoneTemplateContent(body=PhoneTemplateBody(text="SDK {{ code }}")),
    )
    assert created.id and created.type == "otp_verify" and created.content.body is not None
    assert created.content.body.text == "SDK {{ code }}"
    with pytest.raises(ConflictError):
        templates.create(type="otp_verify", content=PhoneTemplateContent())
    with pytest.raises(BadRequestError) as caught:
        templates.create(
            type="otp_enroll",
            content=PhoneTemplateContent(
                body=PhoneTemplateBody(text="{{ code }}\n\n{{ code | x }}")
            ),
        )
    assert "line 3" in error_body(caught)["message"]

    updated = templates.update(
        created.id,
        content=PartialPhoneTemplateContent(
            from_="Phonegate", body=PhoneTemplateBody(voice="Say {{ code }}")
        ),
    )
    assert updated.content.from_ == "Phonegate" and updated.content.body is not None
    assert (updated.content.body.text, updated.content.body.voice) == (
        "SDK {{ code }}",
        "Say {{ code }}",
    )
    assert templates.get(created.id).content == updated.content

    answer = templates.test(created.id, to=TO, delivery_method="text")
    assert answer.code == 202
    inbox = httpx.get(
        f"{server.url}/api/v2/sandbox/messages",
        headers={"authorization": f"Bearer {management_token(server)}"},
    ).json()
    assert inbox[0]["text"] == "SDK 924681" and inbox[0]["recipient"] == TO

    reset = templates.reset(created.id, request={})
    assert reset.id == created.id and reset.content.body is not None
    assert reset.content.body.text == branding.DEFAULT_BODIES["otp_verify"]["text"]
    assert templates.delete(created.id) is None
    with pytest.raises(NotFoundError):
        templates.get(created.id)
