"""The Vonage SMS API provider against its fake over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from phonegate.gsm7 import is_gsm7
from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    Receipt,
    Rejected,
    Retryable,
)
from phonegate.providers.vonage import VonageConfig, VonageProvider, parse_receipt
from tests.fakes.vonage import (
    BARRED_NUMBER,
    NOT_WHITELISTED_NUMBER,
    THROTTLED_NUMBER,
    VonageFake,
)
from tests.providers.sending import TEXT, outgoing

KEY = "a1b2c3d4"
SECRET = "Sup3rS3cr3tValue"
TO = "+447700900123"


@pytest.fixture(scope="module")
def fake() -> Iterator[VonageFake]:
    with VonageFake(api_key=KEY, api_secret=SECRET) as server:
        yield server


def provider(server: VonageFake, http: httpx.AsyncClient, **overrides: Any) -> VonageProvider:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "api_secret": SECRET,
        "from": "ACME",
        "base_url": server.url,
        **overrides,
    }
    return VonageProvider(VonageConfig(**settings), http)


def sms(recipient: str = TO, text: str = TEXT, **extra: Any) -> OutgoingMessage:
    return outgoing(recipient, text=text, **extra)


async def test_success_sends_the_vonage_form(fake: VonageFake, http: httpx.AsyncClient) -> None:
    message = sms(
        message_id="msg_123",
        valid_for_seconds=300,
        callback_url="https://phonegate.example/callbacks/vonage",
    )

    result = await provider(fake, http).send_sms(message)

    (entry,) = fake.received
    assert entry.path == "/sms/json"
    assert entry.headers["content-type"] == "application/x-www-form-urlencoded"
    assert entry.params == {
        "api_key": KEY,
        "api_secret": SECRET,
        "from": "ACME",
        "to": "447700900123",
        "text": "Your code is 482913",
        "type": "text",
        "client-ref": "msg_123",
        "callback": "https://phonegate.example/callbacks/vonage",
        "ttl": "300000",
    }
    assert result.provider == "vonage"
    assert result.status == "queued"
    assert result.provider_message_id == fake.sent[0]["message-id"]


async def test_optional_fields_are_left_out_and_ttl_is_clamped(
    fake: VonageFake, http: httpx.AsyncClient
) -> None:
    sender = provider(fake, http)
    await sender.send_sms(sms())
    await sender.send_sms(sms(valid_for_seconds=5))

    first, second = fake.sent
    assert not {"client-ref", "callback", "ttl"} & first.keys()
    assert second["ttl"] == "20000"  # Vonage's minimum


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("你好, your code is 482913", "unicode"),
        ("Код 482913", "unicode"),
        ("Your code is 482913 👍", "unicode"),
        ("Ihr Code: 482913 (gültig 5 Min.) {€}", "text"),
    ],
)
async def test_type_is_unicode_only_for_text_outside_gsm7(
    fake: VonageFake, http: httpx.AsyncClient, text: str, kind: str
) -> None:
    await provider(fake, http).send_sms(sms(text=text))

    assert fake.sent[0]["type"] == kind
    assert fake.sent[0]["text"] == text
    assert is_gsm7(text) is (kind == "text")


async def test_a_numeric_sender_goes_without_plus(
    fake: VonageFake, http: httpx.AsyncClient
) -> None:
    await provider(fake, http, **{"from": "+15550100"}).send_sms(sms())

    assert fake.sent[0]["from"] == "15550100"
    assert fake.sent[0]["to"] == "447700900123"


@pytest.mark.parametrize(("status", "code"), [(503, "503"), (500, "500"), (429, "429")])
async def test_http_failure_is_retryable_then_success(
    fake: VonageFake, http: httpx.AsyncClient, status: int, code: str
) -> None:
    sender = provider(fake, http)
    fake.fail_next(status)

    with pytest.raises(Retryable) as failure:
        await sender.send_sms(sms())
    assert failure.value.code == code
    assert fake.sent == []

    result = await sender.send_sms(sms())
    assert result.provider_message_id == fake.sent[0]["message-id"]


async def test_throttled_status_at_http_200_is_retryable(
    fake: VonageFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Retryable) as failure:
        await provider(fake, http).send_sms(sms("+" + THROTTLED_NUMBER))

    assert failure.value.code == "1"


@pytest.mark.parametrize(("number", "code"), [(BARRED_NUMBER, "7"), (NOT_WHITELISTED_NUMBER, "29")])
async def test_refused_numbers_are_rejected(
    fake: VonageFake, http: httpx.AsyncClient, number: str, code: str
) -> None:
    with pytest.raises(Rejected) as failure:
        await provider(fake, http).send_sms(sms("+" + number))

    assert failure.value.code == code
    assert number not in failure.value.message
    assert fake.sent == []


async def test_bad_credentials_are_misconfigured_and_not_echoed(
    fake: VonageFake, http: httpx.AsyncClient
) -> None:
    wrong = "WrongSecretValue"
    with pytest.raises(Misconfigured) as failure:
        await provider(fake, http, api_secret=wrong).send_sms(sms())

    assert failure.value.code == "4"
    assert "Bad Credentials" in failure.value.message
    for secret in (wrong, SECRET):
        assert secret not in failure.value.message
    assert fake.sent == []


async def test_timeout_is_retryable(fake: VonageFake, http: httpx.AsyncClient) -> None:
    fake.hang_next()

    with pytest.raises(Retryable) as failure:
        await provider(fake, http, timeout_seconds=0.3).send_sms(sms())

    assert failure.value.code == "timeout"


async def test_receipts_from_the_dlr_webhook(fake: VonageFake, http: httpx.AsyncClient) -> None:
    result = await provider(fake, http).send_sms(sms(message_id="msg_9"))
    message_id = result.provider_message_id
    assert message_id is not None

    assert parse_receipt(fake.dlr(message_id)) == Receipt(message_id, "delivered")
    assert parse_receipt(fake.dlr(message_id, "accepted")) == Receipt(message_id, "sent")
    assert parse_receipt(fake.dlr(message_id, "buffered")) == Receipt(message_id, "sent")
    assert parse_receipt(fake.dlr(message_id, "expired", "5")) == Receipt(
        message_id, "undelivered", "5"
    )
    assert parse_receipt(fake.dlr(message_id, "failed", "6")) == Receipt(message_id, "failed", "6")
    assert parse_receipt(fake.dlr(message_id, "rejected", "29")) == Receipt(
        message_id, "failed", "29"
    )
    assert parse_receipt(fake.dlr(message_id, "unknown")) is None
    assert parse_receipt({"status": "delivered"}) is None


def test_configuration_defaults() -> None:
    config = VonageConfig(api_key=KEY, api_secret=SECRET, from_="ACME")
    assert (config.base_url, config.timeout_seconds, config.from_) == (
        "https://rest.nexmo.com",
        10.0,
        "ACME",
    )
    assert config.model_dump(by_alias=True)["from"] == "ACME"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("api_key", ""),
        ("api_key", "key with spaces"),
        ("api_secret", ""),
        ("from", "TWELVECHARSX"),
        ("from", "ACME-OTP"),
        ("from", "+1234567890123456"),
        ("base_url", "rest.nexmo.com"),
        ("timeout_seconds", 0),
        ("timeout_seconds", 61),
        ("signature_secret", "x"),
    ],
)
def test_bad_configuration_is_refused(field: str, value: object) -> None:
    settings: dict[str, object] = {"api_key": KEY, "api_secret": SECRET, "from": "ACME"}
    settings[field] = value
    with pytest.raises(ValidationError) as failure:
        VonageConfig(**settings)
    assert failure.value.errors()[0]["loc"] == (field,)


async def test_sms_is_the_only_channel(http: httpx.AsyncClient) -> None:
    config = VonageConfig(api_key=KEY, api_secret=SECRET, from_="ACME")
    assert VonageProvider(config, http).channels == frozenset({"sms"})
