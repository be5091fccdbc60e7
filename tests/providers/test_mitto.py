"""MittoProvider against the Mitto fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
)
from phonegate.providers.mitto import MittoConfig, MittoProvider
from tests.fakes.mitto import (
    API_KEY,
    INTERNAL_ERROR_NUMBER,
    INVALID_NUMBER,
    REFUSED_SENDER,
    MittoFake,
)
from tests.providers.sending import outgoing

WRONG_API_KEY = "not-the-mitto-api-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[MittoFake]:
    with MittoFake() as server:
        yield server


def provider(fake: MittoFake, http: httpx.AsyncClient, **overrides: Any) -> MittoProvider:
    fields: dict[str, Any] = {"api_key": API_KEY, "from": "Acme", "base_url": fake.url}
    return MittoProvider(MittoConfig(**(fields | overrides)), http)


def sms(recipient: str = "+41791234567", **overrides: Any) -> OutgoingMessage:
    return outgoing(recipient, **({"message_id": "msg_0001"} | overrides))


async def test_success_posts_the_json_with_the_api_key_header(
    fake: MittoFake, http: httpx.AsyncClient
) -> None:
    result = await provider(fake, http).send_sms(sms())

    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/sms")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-mitto-api-key"] == API_KEY
    assert "authorization" not in request.headers
    assert request.json == {
        "from": "Acme",
        "to": "41791234567",
        "text": "Your code is 482913",
        "type": "Auto",
        "reference": "msg_0001",
    }
    [sent] = fake.messages
    assert result.provider == "mitto"
    assert result.provider_message_id == sent.id
    assert result.status == "queued"


@pytest.mark.parametrize(("valid_for_seconds", "minutes"), [(300, 5), (301, 6), (30, 1)])
async def test_validity_is_sent_in_whole_minutes(
    fake: MittoFake, http: httpx.AsyncClient, valid_for_seconds: int, minutes: int
) -> None:
    await provider(fake, http).send_sms(sms(valid_for_seconds=valid_for_seconds))
    assert fake.messages[0].validity == minutes


async def test_503_is_retryable_and_the_next_send_succeeds(
    fake: MittoFake, http: httpx.AsyncClient
) -> None:
    mitto = provider(fake, http)
    fake.fail_next(503)

    with pytest.raises(Retryable) as caught:
        await mitto.send_sms(sms())
    assert caught.value.code == "503"

    result = await mitto.send_sms(sms())
    assert result.provider_message_id == fake.messages[0].id


async def test_429_is_retryable_after_the_vendors_delay(
    fake: MittoFake, http: httpx.AsyncClient
) -> None:
    fake.fail_next(429, headers={"Retry-After": "3"})

    with pytest.raises(Retryable) as caught:
        await provider(fake, http).send_sms(sms())
    assert (caught.value.code, caught.value.retry_after) == ("429", 3.0)


async def test_an_internal_error_code_is_retryable(
    fake: MittoFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Retryable) as caught:
        await provider(fake, http).send_sms(sms(INTERNAL_ERROR_NUMBER))
    assert caught.value.code == "1"


@pytest.mark.parametrize(
    ("message", "code"),
    [(sms(INVALID_NUMBER), "8"), (sms(text=""), "3")],
)
async def test_a_refused_message_is_rejected_with_mittos_code(
    fake: MittoFake, http: httpx.AsyncClient, message: OutgoingMessage, code: str
) -> None:
    with pytest.raises(Rejected) as caught:
        await provider(fake, http).send_sms(message)
    assert caught.value.code == code
    assert fake.messages == []


async def test_a_refused_sender_is_misconfigured(fake: MittoFake, http: httpx.AsyncClient) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(fake, http, **{"from": REFUSED_SENDER}).send_sms(sms())
    assert caught.value.code == "6"


async def test_a_bad_api_key_is_misconfigured(fake: MittoFake, http: httpx.AsyncClient) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(fake, http, api_key=WRONG_API_KEY).send_sms(sms())
    assert caught.value.code == "401"


async def test_a_hanging_vendor_times_out_as_retryable(
    fake: MittoFake, http: httpx.AsyncClient
) -> None:
    fake.hang_next()

    with pytest.raises(Retryable) as caught:
        await provider(fake, http, timeout_seconds=0.3).send_sms(sms())
    assert caught.value.code == "timeout"


async def test_no_error_message_holds_the_api_key(fake: MittoFake, http: httpx.AsyncClient) -> None:
    errors: list[ProviderError] = []
    for overrides, message in [
        ({"api_key": WRONG_API_KEY}, sms()),
        ({}, sms(INVALID_NUMBER)),
        ({"from": REFUSED_SENDER}, sms()),
    ]:
        with pytest.raises(ProviderError) as caught:
            await provider(fake, http, **overrides).send_sms(message)
        errors.append(caught.value)

    for error in errors:
        assert API_KEY not in str(error)
        assert WRONG_API_KEY not in str(error)


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_key": ""},
        {"from": None},
        {"from": "AB"},
        {"from": "MuchTooLongName"},
        {"from": "Acme-Co"},
        {"from": "12"},
        {"from": "123456789012345"},
        {"base_url": "//rest.mittoapi.com"},
        {"timeout_seconds": 0},
        {"unknown": "field"},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"api_key": API_KEY, "from": "Acme"}
    with pytest.raises(ValidationError):
        MittoConfig(**(fields | overrides))


@pytest.mark.parametrize(
    "sender", ["Acme", "MITTO SMS", "ABC", "Acme2024Abc", "123", "41791234567890"]
)
def test_mittos_sender_rules_are_accepted(sender: str) -> None:
    assert MittoConfig(api_key=API_KEY, **{"from": sender}).from_ == sender


def test_configuration_defaults_and_secret() -> None:
    parsed = MittoConfig(api_key=API_KEY, from_="Acme")
    assert parsed.base_url == "https://rest.mittoapi.com"
    assert parsed.timeout_seconds == 10.0
    assert isinstance(parsed.api_key, SecretStr)
    assert API_KEY not in repr(parsed)
