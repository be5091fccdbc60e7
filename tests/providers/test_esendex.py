"""EsendexProvider (SMS and voice) against the Esendex fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from phonegate.providers.base import (
    ChannelName,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
)
from phonegate.providers.esendex import EsendexConfig, EsendexProvider, voice_language
from tests.fakes.esendex import (
    ACCOUNT_REFERENCE,
    INVALID_NUMBER,
    PASSWORD,
    USERNAME,
    EsendexFake,
)
from tests.fakes.server import basic_auth
from tests.providers.sending import TEXT, outgoing, send

CHANNELS = ("sms", "voice")


@pytest.fixture(scope="module")
def fake() -> Iterator[EsendexFake]:
    with EsendexFake() as server:
        yield server


def provider(fake: EsendexFake, http: httpx.AsyncClient, **overrides: Any) -> EsendexProvider:
    fields: dict[str, Any] = {
        "username": USERNAME,
        "password": PASSWORD,
        "account_reference": ACCOUNT_REFERENCE,
        "base_url": fake.url,
    }
    return EsendexProvider(EsendexConfig(**(fields | overrides)), http)


def message(
    channel: ChannelName, recipient: str = "+447700900123", **overrides: Any
) -> OutgoingMessage:
    text = TEXT if channel == "sms" else "Your code is 4, 8, 2, 9, 1, 3."
    return outgoing(recipient, channel, **({"text": text, "message_id": "msg_0001"} | overrides))


def document(body: bytes) -> list[tuple[str, str | None, list[tuple[str, str | None]]]]:
    """The posted XML as (tag, text, children) in document order."""
    root = ElementTree.fromstring(body)  # noqa: S314 - the provider's own XML
    return [
        (child.tag, child.text, [(grandchild.tag, grandchild.text) for grandchild in child])
        for child in root
    ]


async def test_sms_success_posts_the_xml_document_with_basic_auth(
    fake: EsendexFake, http: httpx.AsyncClient
) -> None:
    result = await provider(fake, http).send_sms(message("sms", valid_for_seconds=300))

    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/v1.0/messagedispatcher")
    assert request.headers["content-type"] == "application/xml; charset=utf-8"
    assert request.headers["authorization"] == basic_auth(USERNAME, PASSWORD)
    assert request.body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert document(request.body) == [
        ("accountreference", ACCOUNT_REFERENCE, []),
        (
            "message",
            None,
            [
                ("to", "447700900123"),
                ("body", "Your code is 482913"),
                ("type", "SMS"),
                ("validity", "1"),
            ],
        ),
    ]
    [sent] = fake.messages
    assert result.provider == "esendex"
    assert result.provider_message_id == sent.id
    assert result.status == "queued"


async def test_voice_success_sends_a_voice_message_in_the_locales_language(
    fake: EsendexFake, http: httpx.AsyncClient
) -> None:
    esendex = provider(fake, http, **{"from": "Acme"})
    result = await esendex.place_call(message("voice", "+33612345678", locale="fr"))

    [request] = fake.received
    assert document(request.body)[1][2] == [
        ("to", "33612345678"),
        ("body", "Your code is 4, 8, 2, 9, 1, 3."),
        ("from", "Acme"),
        ("type", "Voice"),
        ("lang", "fr-FR"),
    ]
    [sent] = fake.messages
    assert (sent.type, sent.lang, sent.originator) == ("Voice", "fr-FR", "Acme")
    assert result.provider_message_id == sent.id


async def test_the_body_is_xml_escaped(fake: EsendexFake, http: httpx.AsyncClient) -> None:
    text = 'Code <482913> & "more" </body><to>1</to>'
    await provider(fake, http).send_sms(message("sms", text=text))

    [request] = fake.received
    assert b"Code &lt;482913&gt; &amp;" in request.body
    [sent] = fake.messages
    assert (sent.body, sent.to) == (text, "447700900123")


@pytest.mark.parametrize(
    ("valid_for_seconds", "hours"),
    [(None, None), (60, "1"), (3600, "1"), (3601, "2"), (86400, "24"), (10**7, "72")],
)
async def test_validity_is_whole_hours_within_esendexs_limit(
    fake: EsendexFake, http: httpx.AsyncClient, valid_for_seconds: int | None, hours: str | None
) -> None:
    await provider(fake, http).send_sms(message("sms", valid_for_seconds=valid_for_seconds))
    assert fake.messages[0].validity == hours


@pytest.mark.parametrize(
    ("locale", "lang"),
    [
        ("en", "en-GB"),
        ("en-GB", "en-GB"),
        ("en-US", "en-GB"),
        ("en_AU", "en-AU"),
        ("es-MX", "es-ES"),
        ("de", "de-DE"),
        ("fr-CA", "fr-FR"),
        ("pt-BR", "en-GB"),
    ],
)
def test_voice_language_follows_the_locale(locale: str, lang: str) -> None:
    assert voice_language(locale) == lang


@pytest.mark.parametrize("channel", CHANNELS)
async def test_503_is_retryable_and_the_next_send_succeeds(
    fake: EsendexFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    esendex = provider(fake, http)
    fake.fail_next(503)

    with pytest.raises(Retryable) as caught:
        await send(esendex, message(channel))
    assert caught.value.code == "503"

    result = await send(esendex, message(channel))
    assert result.provider_message_id == fake.messages[0].id


async def test_429_is_retryable_after_the_vendors_delay(
    fake: EsendexFake, http: httpx.AsyncClient
) -> None:
    fake.fail_next(429, headers={"Retry-After": "12"})

    with pytest.raises(Retryable) as caught:
        await provider(fake, http).send_sms(message("sms"))
    assert (caught.value.code, caught.value.retry_after) == ("429", 12.0)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_invalid_number_is_rejected(
    fake: EsendexFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    with pytest.raises(Rejected) as caught:
        await send(provider(fake, http), message(channel, INVALID_NUMBER))
    assert caught.value.code == "400"
    assert "invalid recipient" in caught.value.message
    assert fake.messages == []


@pytest.mark.parametrize("channel", CHANNELS)
async def test_bad_credentials_are_misconfigured(
    fake: EsendexFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    esendex = provider(fake, http, password="not the password")
    with pytest.raises(Misconfigured) as caught:
        await send(esendex, message(channel))
    assert caught.value.code == "401"


async def test_an_unknown_account_reference_is_misconfigured(
    fake: EsendexFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(fake, http, account_reference="EX0099999").send_sms(message("sms"))
    assert caught.value.code == "400"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_hanging_vendor_times_out_as_retryable(
    fake: EsendexFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    fake.hang_next()

    with pytest.raises(Retryable) as caught:
        await send(provider(fake, http, timeout_seconds=0.3), message(channel))
    assert caught.value.code == "timeout"


async def test_no_error_message_holds_a_credential(
    fake: EsendexFake, http: httpx.AsyncClient
) -> None:
    wrong_password = "wrong esendex password"
    errors: list[ProviderError] = []
    for overrides, recipient in [
        ({"password": wrong_password}, "+447700900123"),
        ({"account_reference": "EX0099999"}, "+447700900123"),
        ({}, INVALID_NUMBER),
    ]:
        with pytest.raises(ProviderError) as caught:
            await provider(fake, http, **overrides).send_sms(message("sms", recipient))
        errors.append(caught.value)

    for error in errors:
        for secret in (PASSWORD, wrong_password):
            assert secret not in str(error)
            assert basic_auth(USERNAME, secret).removeprefix("Basic ") not in str(error)


@pytest.mark.parametrize(
    "overrides",
    [
        {"username": ""},
        {"password": ""},
        {"account_reference": "0012345"},
        {"account_reference": "EX00123a"},
        {"from": "MuchTooLongName"},
        {"from": "Acme-Co"},
        {"from": "1234567890123456"},
        {"base_url": "api.esendex.com"},
        {"timeout_seconds": -1},
        {"timeout_seconds": 60.5},
        {"unknown": "field"},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "username": USERNAME,
        "password": PASSWORD,
        "account_reference": ACCOUNT_REFERENCE,
    }
    with pytest.raises(ValidationError):
        EsendexConfig(**(fields | overrides))


def test_configuration_defaults_alias_and_secret() -> None:
    parsed = EsendexConfig.model_validate(
        {
            "username": USERNAME,
            "password": PASSWORD,
            "account_reference": ACCOUNT_REFERENCE,
            "from": "447700900100",
            "base_url": "https://eu.proxy.example.com/esendex/",
        }
    )
    assert parsed.from_ == "447700900100"
    assert parsed.base_url == "https://eu.proxy.example.com/esendex"
    assert parsed.timeout_seconds == 10.0
    assert EsendexConfig(
        username=USERNAME, password=PASSWORD, account_reference=ACCOUNT_REFERENCE
    ).base_url == ("https://api.esendex.com")
    assert isinstance(parsed.password, SecretStr)
    assert PASSWORD not in repr(parsed)
