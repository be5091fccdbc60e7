"""TelesignProvider against the TeleSign fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Receipt,
    ReceiptStatus,
    Rejected,
    Retryable,
)
from phonegate.providers.telesign import (
    TelesignConfig,
    TelesignProvider,
    parse_receipt,
    valid_signature,
)
from tests.fakes.server import basic_auth
from tests.fakes.telesign import (
    API_KEY,
    CUSTOMER_ID,
    INVALID_NUMBER,
    REFUSED_SENDER_ID,
    TelesignFake,
)
from tests.providers.sending import outgoing

WRONG_API_KEY = base64.b64encode(b"not the key telesign knows").decode()


@pytest.fixture(scope="module")
def fake() -> Iterator[TelesignFake]:
    with TelesignFake() as server:
        yield server


def config(fake: TelesignFake, **overrides: Any) -> TelesignConfig:
    fields: dict[str, Any] = {"customer_id": CUSTOMER_ID, "api_key": API_KEY, "base_url": fake.url}
    return TelesignConfig(**(fields | overrides))


def provider(fake: TelesignFake, http: httpx.AsyncClient, **overrides: Any) -> TelesignProvider:
    return TelesignProvider(config(fake, **overrides), http)


def sms(recipient: str = "+14155550123", **overrides: Any) -> OutgoingMessage:
    return outgoing(recipient, **({"message_id": "msg_0001"} | overrides))


async def test_success_posts_the_form_with_basic_auth(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    result = await provider(fake, http).send_sms(sms())

    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/v1/messaging")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == basic_auth(CUSTOMER_ID, API_KEY)
    assert request.form == {
        "phone_number": ["14155550123"],
        "message": ["Your code is 482913"],
        "message_type": ["OTP"],
        "external_id": ["msg_0001"],
    }
    [sent] = fake.messages
    assert result.provider == "telesign"
    assert result.provider_message_id == sent.reference_id
    assert result.status == "queued"


async def test_optional_fields_are_sent_when_configured(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    telesign = provider(fake, http, message_type="ARN", sender_id="Acme")
    await telesign.send_sms(
        sms("+447700900123", callback_url="https://auth.example.com/callbacks/telesign")
    )

    [sent] = fake.messages
    assert sent.phone_number == "447700900123"
    assert sent.message_type == "ARN"
    assert sent.sender_id == "Acme"
    assert sent.callback_url == "https://auth.example.com/callbacks/telesign"


async def test_503_is_retryable_and_the_next_send_succeeds(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    telesign = provider(fake, http)
    fake.fail_next(503)

    with pytest.raises(Retryable) as caught:
        await telesign.send_sms(sms())
    assert caught.value.code == "3500"

    result = await telesign.send_sms(sms())
    assert result.provider_message_id == fake.messages[0].reference_id


async def test_429_is_retryable_after_the_vendors_delay(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    fake.fail_next(429, headers={"Retry-After": "7"})

    with pytest.raises(Retryable) as caught:
        await provider(fake, http).send_sms(sms())
    assert caught.value.code == "3204"
    assert caught.value.retry_after == 7.0


async def test_an_invalid_number_is_rejected_with_telesigns_code(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Rejected) as caught:
        await provider(fake, http).send_sms(sms(INVALID_NUMBER))
    assert caught.value.code == "11000"
    assert fake.messages == []


async def test_a_refused_sender_id_is_misconfigured(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(fake, http, sender_id=REFUSED_SENDER_ID).send_sms(sms())
    assert caught.value.code == "11013"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"api_key": WRONG_API_KEY}, "-30006"),
        ({"customer_id": "00000000-0000-0000-0000-000000000000"}, "-30000"),
    ],
)
async def test_bad_credentials_are_misconfigured(
    fake: TelesignFake, http: httpx.AsyncClient, overrides: dict[str, str], code: str
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(fake, http, **overrides).send_sms(sms())
    assert caught.value.code == code


async def test_a_hanging_vendor_times_out_as_retryable(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    fake.hang_next()

    with pytest.raises(Retryable) as caught:
        await provider(fake, http, timeout_seconds=0.3).send_sms(sms())
    assert caught.value.code == "timeout"


async def test_no_error_message_holds_a_credential(
    fake: TelesignFake, http: httpx.AsyncClient
) -> None:
    errors: list[ProviderError] = []
    for overrides, message in [
        ({"api_key": WRONG_API_KEY}, sms()),
        ({}, sms(INVALID_NUMBER)),
        ({"sender_id": REFUSED_SENDER_ID}, sms()),
    ]:
        with pytest.raises(ProviderError) as caught:
            await provider(fake, http, **overrides).send_sms(message)
        errors.append(caught.value)
    fake.fail_next(503)
    with pytest.raises(ProviderError) as caught:
        await provider(fake, http).send_sms(sms())
    errors.append(caught.value)

    for error in errors:
        for secret in (API_KEY, WRONG_API_KEY, base64.b64encode(API_KEY.encode()).decode()):
            assert secret not in str(error)


@pytest.mark.parametrize(
    "overrides",
    [
        {"customer_id": "not-a-customer-id"},
        {"api_key": ""},
        {"message_type": "SPAM"},
        {"sender_id": "MuchTooLongSender"},
        {"sender_id": "Acme-Co"},
        {"sender_id": "1234567890123456"},
        {"base_url": "ftp://rest-api.telesign.com"},
        {"base_url": "rest-api.telesign.com"},
        {"timeout_seconds": 0},
        {"timeout_seconds": 61},
        {"unknown": "field"},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"customer_id": CUSTOMER_ID, "api_key": API_KEY}
    with pytest.raises(ValidationError):
        TelesignConfig(**(fields | overrides))


def test_configuration_defaults_and_secret() -> None:
    parsed = TelesignConfig(customer_id=CUSTOMER_ID, api_key=API_KEY, sender_id="447700900123")
    assert parsed.base_url == "https://rest-api.telesign.com"
    assert parsed.message_type == "OTP"
    assert parsed.timeout_seconds == 10.0
    assert API_KEY not in repr(parsed)
    assert isinstance(parsed.api_key, SecretStr)


@pytest.mark.parametrize(
    ("code", "receipt_status", "error_code"),
    [
        (200, "delivered", None),
        (203, "sent", None),
        (290, "queued", None),
        (292, "queued", None),
        (207, "undelivered", "207"),
        (210, "undelivered", "210"),
        (221, "undelivered", "221"),
        (513, "undelivered", "513"),
        (229, "failed", "229"),
        (230, "failed", "230"),
        (502, "failed", "502"),
    ],
)
def test_parse_receipt_maps_status_codes(
    code: int, receipt_status: ReceiptStatus, error_code: str | None
) -> None:
    body = {
        "reference_id": "0123456789ABCDEF0123456789ABCDEF",
        "status": {"code": code, "description": "…", "updated_on": "2026-05-01T10:00:00Z"},
    }
    assert parse_receipt(body) == Receipt(
        "0123456789ABCDEF0123456789ABCDEF", receipt_status, error_code
    )


@pytest.mark.parametrize(
    "body",
    [
        {"reference_id": "ABC", "status": {"code": 250}},  # final status unknown
        {"reference_id": "ABC", "status": {"code": 295}},  # status delayed
        {"reference_id": "ABC", "status": {"code": "200"}},
        {"reference_id": "ABC"},
        {"status": {"code": 200}},
        {},
    ],
)
def test_parse_receipt_ignores_what_says_nothing(body: dict[str, Any]) -> None:
    assert parse_receipt(body) is None


def _signed(body: bytes, *, customer_id: str = CUSTOMER_ID, api_key: str = API_KEY) -> str:
    digest = hmac.new(base64.b64decode(api_key), body, hashlib.sha256).digest()
    return f"TSA {customer_id}:{base64.b64encode(digest).decode()}"


def test_valid_signature_checks_the_callback_hmac(fake: TelesignFake) -> None:
    settings = config(fake)
    body = json.dumps({"reference_id": "ABC", "status": {"code": 200}}).encode()

    assert valid_signature(settings, _signed(body), body)
    assert valid_signature(settings, _signed(body, customer_id=CUSTOMER_ID.lower()), body)
    assert not valid_signature(settings, _signed(body), body + b" ")
    assert not valid_signature(settings, _signed(body, api_key=WRONG_API_KEY), body)
    assert not valid_signature(
        settings, _signed(body, customer_id="00000000-0000-0000-0000-000000000000"), body
    )
    assert not valid_signature(settings, _signed(body).replace("TSA", "Basic"), body)
    assert not valid_signature(settings, None, body)
