"""The Infobip SMS provider against its fake over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    Receipt,
    Rejected,
    Retryable,
)
from phonegate.providers.infobip import InfobipConfig, InfobipProvider, parse_receipt
from tests.fakes.infobip import INVALID_DESTINATION, NO_CREDIT_DESTINATION, InfobipFake
from tests.providers.sending import outgoing

KEY = "0123456789abcdef0123456789abcdef-01234567-89ab-cdef-0123-456789abcdef"
TO = "+41793026727"


@pytest.fixture(scope="module")
def fake() -> Iterator[InfobipFake]:
    with InfobipFake(api_key=KEY) as server:
        yield server


def provider(server: InfobipFake, http: httpx.AsyncClient, **overrides: Any) -> InfobipProvider:
    settings: dict[str, Any] = {"api_key": KEY, "base_url": server.url, **overrides}
    return InfobipProvider(InfobipConfig(**settings), http)


def sms(recipient: str = TO, **extra: Any) -> OutgoingMessage:
    return outgoing(recipient, **extra)


async def test_success_sends_the_infobip_json(fake: InfobipFake, http: httpx.AsyncClient) -> None:
    message = sms(
        message_id="msg_123",
        valid_for_seconds=300,
        callback_url="https://phonegate.example/callbacks/infobip",
    )

    result = await provider(fake, http, **{"from": "InfoSMS"}).send_sms(message)

    (entry,) = fake.received
    assert entry.path == "/sms/2/text/advanced"
    assert entry.headers["authorization"] == f"App {KEY}"
    assert entry.headers["content-type"] == "application/json"
    assert entry.json == {
        "messages": [
            {
                "destinations": [{"to": "41793026727", "messageId": "msg_123"}],
                "from": "InfoSMS",
                "text": "Your code is 482913",
                "validityPeriod": 5,
                "notifyUrl": "https://phonegate.example/callbacks/infobip",
                "notifyContentType": "application/json",
            }
        ]
    }
    assert result.provider == "infobip"
    assert result.status == "queued"
    assert result.provider_message_id == "msg_123" == fake.sent[0]["messageId"]


async def test_optional_fields_are_left_out_and_the_validity_rounds_up(
    fake: InfobipFake, http: httpx.AsyncClient
) -> None:
    sender = provider(fake, http)
    first = await sender.send_sms(sms())
    await sender.send_sms(sms(valid_for_seconds=90))
    await sender.send_sms(sms(valid_for_seconds=7 * 24 * 3600))

    assert fake.received[0].json == {
        "messages": [{"destinations": [{"to": "41793026727"}], "text": "Your code is 482913"}]
    }
    assert first.provider_message_id == fake.sent[0]["messageId"]  # the one Infobip issued
    assert [m.get("validityPeriod") for m in fake.sent] == [None, 2, 2880]


@pytest.mark.parametrize(
    ("status", "headers", "code", "retry_after"),
    [
        (503, {}, "SERVICE_UNAVAILABLE", None),
        (500, {}, "GENERAL_ERROR", None),
        (429, {"Retry-After": "7"}, "TOO_MANY_REQUESTS", 7.0),
    ],
)
async def test_retryable_failure_then_success(
    fake: InfobipFake,
    http: httpx.AsyncClient,
    status: int,
    headers: dict[str, str],
    code: str,
    retry_after: float | None,
) -> None:
    sender = provider(fake, http)
    fake.fail_next(status, headers=headers)

    with pytest.raises(Retryable) as failure:
        await sender.send_sms(sms())
    assert (failure.value.code, failure.value.retry_after) == (code, retry_after)
    assert fake.sent == []

    result = await sender.send_sms(sms())
    assert result.provider_message_id == fake.sent[0]["messageId"]


async def test_a_rejected_destination_is_rejected(
    fake: InfobipFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Rejected) as failure:
        await provider(fake, http).send_sms(sms("+" + INVALID_DESTINATION))

    assert failure.value.code == "REJECTED_DESTINATION"
    assert fake.sent == []


async def test_no_credit_is_misconfigured(fake: InfobipFake, http: httpx.AsyncClient) -> None:
    with pytest.raises(Misconfigured) as failure:
        await provider(fake, http).send_sms(sms("+" + NO_CREDIT_DESTINATION))

    assert failure.value.code == "REJECTED_NOT_ENOUGH_CREDITS"


async def test_a_bad_request_about_the_message_is_rejected(
    fake: InfobipFake, http: httpx.AsyncClient
) -> None:
    fake.fail_next(400)
    with pytest.raises(Rejected) as failure:
        await provider(fake, http).send_sms(sms())
    assert failure.value.code == "BAD_REQUEST"

    with pytest.raises(Rejected) as failure:
        await provider(fake, http).send_sms(sms("+12"))  # too short for Infobip
    assert failure.value.code == "BAD_REQUEST"


async def test_a_bad_request_about_the_configuration_is_misconfigured(
    fake: InfobipFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Misconfigured) as failure:
        await provider(fake, http).send_sms(sms(callback_url="phonegate.example/callbacks"))

    assert failure.value.code == "BAD_REQUEST"
    assert "notifyUrl" in failure.value.message
    assert fake.sent == []


async def test_a_bad_api_key_is_misconfigured_and_not_echoed(
    fake: InfobipFake, http: httpx.AsyncClient
) -> None:
    wrong = "ffffffffffffffffffffffffffffffff-00000000-0000-0000-0000-000000000000"
    with pytest.raises(Misconfigured) as failure:
        await provider(fake, http, api_key=wrong).send_sms(sms())

    assert failure.value.code == "UNAUTHORIZED"
    assert "Invalid login details" in failure.value.message
    for secret in (wrong, KEY):
        assert secret not in failure.value.message
    assert fake.sent == []


async def test_timeout_is_retryable(fake: InfobipFake, http: httpx.AsyncClient) -> None:
    fake.hang_next()

    with pytest.raises(Retryable) as failure:
        await provider(fake, http, timeout_seconds=0.3).send_sms(sms())

    assert failure.value.code == "timeout"


async def test_receipts_from_the_delivery_report(
    fake: InfobipFake, http: httpx.AsyncClient
) -> None:
    result = await provider(fake, http).send_sms(sms(message_id="msg_7"))
    assert result.provider_message_id == "msg_7"

    expected = {
        "DELIVERED": Receipt("msg_7", "delivered"),
        "PENDING": Receipt("msg_7", "sent"),
        "UNDELIVERABLE": Receipt("msg_7", "undelivered", "EC_ABSENT_SUBSCRIBER"),
        "EXPIRED": Receipt("msg_7", "undelivered", "EC_ABSENT_SUBSCRIBER"),
        "REJECTED": Receipt("msg_7", "failed", "EC_ABSENT_SUBSCRIBER"),
    }
    for group, receipt in expected.items():
        assert parse_receipt(fake.report("msg_7", group)) == [receipt]
    both = fake.report("msg_7")
    both["results"].append({"messageId": "other", "status": {"groupName": "SOMETHING_NEW"}})
    assert parse_receipt(both) == [Receipt("msg_7", "delivered")]
    assert parse_receipt({}) == []


def test_configuration_defaults() -> None:
    config = InfobipConfig(api_key=KEY, base_url="https://xyz123.api.infobip.com")
    assert (config.from_, config.timeout_seconds) == (None, 10.0)
    assert InfobipConfig(api_key=KEY, base_url="https://x", from_="+41793026700").from_ == (
        "41793026700"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("api_key", ""),
        ("api_key", "App abc"),
        ("base_url", "xyz123.api.infobip.com"),
        ("from", "AB"),
        ("from", "TWELVECHARSX"),
        ("from", "Info SMS"),
        ("from", "+123456789012345"),
        ("timeout_seconds", 0),
        ("timeout_seconds", 61),
        ("username", "x"),
    ],
)
def test_bad_configuration_is_refused(field: str, value: object) -> None:
    settings: dict[str, object] = {"api_key": KEY, "base_url": "https://xyz123.api.infobip.com"}
    settings[field] = value
    with pytest.raises(ValidationError) as failure:
        InfobipConfig(**settings)
    assert failure.value.errors()[0]["loc"] == (field,)


def test_the_base_url_is_required() -> None:
    with pytest.raises(ValidationError) as failure:
        InfobipConfig(api_key=KEY)  # type: ignore[call-arg]
    assert failure.value.errors()[0]["loc"] == ("base_url",)


async def test_sms_is_the_only_channel(http: httpx.AsyncClient) -> None:
    config = InfobipConfig(api_key=KEY, base_url="https://xyz123.api.infobip.com")
    assert InfobipProvider(config, http).channels == frozenset({"sms"})


@pytest.mark.parametrize(
    "body",
    [
        {"results": 5},
        {"results": [5, "x", None]},
        {"results": [{"messageId": "m1", "status": "DELIVERED"}]},
        {"results": [{"messageId": "m1", "status": {"groupName": "DELIVERED"}, "error": 7}]},
        {"results": [{"messageId": {"a": 1}, "status": {"groupName": "DELIVERED"}}]},
        {},
    ],
)
def test_malformed_delivery_reports_give_no_receipt_and_never_raise(
    body: dict[str, object],
) -> None:
    receipts = parse_receipt(body)
    assert all(r.provider_message_id == "m1" for r in receipts)
    assert len(receipts) <= 1
