"""The Amazon SNS provider against moto behind a SigV4-checking front, over real HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from phonegate.providers.base import Misconfigured, OutgoingMessage, Rejected, Retryable
from phonegate.providers.sns import SnsConfig, SnsProvider
from tests.fakes.sns import INVALID_NUMBER, SnsFake
from tests.providers.sending import TEXT, outgoing

REGION = "eu-west-1"
KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDFakeSessionToken=="
TO = "+15558675310"


@pytest.fixture(scope="module")
def fake() -> Iterator[SnsFake]:
    with SnsFake(access_key_id=KEY, secret_access_key=SECRET, region=REGION) as server:
        yield server


@pytest.fixture(scope="module")
def token_fake() -> Iterator[SnsFake]:
    """An account reached with temporary (STS) credentials."""
    with SnsFake(
        access_key_id=KEY, secret_access_key=SECRET, session_token=TOKEN, region=REGION
    ) as server:
        yield server


def provider(server: SnsFake, http: httpx.AsyncClient, **overrides: Any) -> SnsProvider:
    settings: dict[str, Any] = {
        "region": REGION,
        "access_key_id": KEY,
        "secret_access_key": SECRET,
        "base_url": server.url,
        **overrides,
    }
    return SnsProvider(SnsConfig(**settings), http)


def sms(recipient: str = TO, text: str = TEXT) -> OutgoingMessage:
    return outgoing(recipient, text=text)


def form(server: SnsFake) -> dict[str, str]:
    (entry,) = server.received
    return entry.params


async def test_publish_is_signed_and_reaches_moto(fake: SnsFake, http: httpx.AsyncClient) -> None:
    sender = provider(
        fake, http, sender_id="ACME", origination_number="+15550100", max_price="0.50"
    )

    result = await sender.send_sms(sms())

    assert result.provider == "sns"
    assert result.status == "sent"
    assert fake.sms_messages() == [
        {"phone_number": TO, "message": TEXT, "message_id": result.provider_message_id}
    ]
    assert form(fake) == {
        "Action": "Publish",
        "Version": "2010-03-31",
        "PhoneNumber": TO,
        "Message": TEXT,
        "MessageAttributes.entry.1.Name": "AWS.SNS.SMS.SMSType",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "Transactional",
        "MessageAttributes.entry.2.Name": "AWS.SNS.SMS.SenderID",
        "MessageAttributes.entry.2.Value.DataType": "String",
        "MessageAttributes.entry.2.Value.StringValue": "ACME",
        "MessageAttributes.entry.3.Name": "AWS.SNS.SMS.OriginationNumber",
        "MessageAttributes.entry.3.Value.DataType": "String",
        "MessageAttributes.entry.3.Value.StringValue": "+15550100",
        "MessageAttributes.entry.4.Name": "AWS.SNS.SMS.MaxPrice",
        "MessageAttributes.entry.4.Value.DataType": "Number",
        "MessageAttributes.entry.4.Value.StringValue": "0.50",
    }
    headers = fake.received[0].headers
    assert headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={KEY}/{headers['x-amz-date'][:8]}/{REGION}/sns/aws4_request,"
    )
    assert "x-amz-security-token" not in headers


async def test_only_the_sms_type_is_sent_by_default(fake: SnsFake, http: httpx.AsyncClient) -> None:
    await provider(fake, http, sms_type="Promotional").send_sms(sms())

    attributes = {k: v for k, v in form(fake).items() if k.startswith("MessageAttributes")}
    assert attributes == {
        "MessageAttributes.entry.1.Name": "AWS.SNS.SMS.SMSType",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "Promotional",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "ServiceUnavailable"), (500, "InternalError"), (400, "Throttling")],
)
async def test_retryable_failure_then_success(
    fake: SnsFake, http: httpx.AsyncClient, status: int, code: str
) -> None:
    sender = provider(fake, http)
    fake.fail_next(status)

    with pytest.raises(Retryable) as failure:
        await sender.send_sms(sms())
    assert failure.value.code == code
    assert fake.sms_messages() == []

    result = await sender.send_sms(sms())
    assert [m["message_id"] for m in fake.sms_messages()] == [result.provider_message_id]


async def test_a_number_sns_refuses_is_rejected(fake: SnsFake, http: httpx.AsyncClient) -> None:
    with pytest.raises(Rejected) as failure:
        await provider(fake, http).send_sms(sms(INVALID_NUMBER))

    assert failure.value.code == "InvalidParameter"
    assert INVALID_NUMBER not in failure.value.message  # digit runs are masked
    assert fake.sms_messages() == []


async def test_a_refusal_from_moto_itself_is_relayed(
    fake: SnsFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Rejected) as failure:
        await provider(fake, http).send_sms(sms(text="x" * 1700))

    assert failure.value.code == "InvalidParameter"
    assert "1600 bytes" in failure.value.message


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"secret_access_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"access_key_id": "AKIAUNKNOWNKEY000000"}, "InvalidClientTokenId"),
        ({"region": "us-west-2"}, "SignatureDoesNotMatch"),
    ],
)
async def test_bad_credentials_are_misconfigured(
    fake: SnsFake, http: httpx.AsyncClient, overrides: dict[str, str], code: str
) -> None:
    with pytest.raises(Misconfigured) as failure:
        await provider(fake, http, **overrides).send_sms(sms())

    assert failure.value.code == code
    assert SECRET not in failure.value.message
    assert overrides.get("secret_access_key", SECRET) not in failure.value.message
    assert fake.sms_messages() == []


async def test_temporary_credentials_send_the_session_token(
    token_fake: SnsFake, http: httpx.AsyncClient
) -> None:
    token_fake.reset()
    result = await provider(token_fake, http, session_token=TOKEN).send_sms(sms())

    assert token_fake.received[0].headers["x-amz-security-token"] == TOKEN
    assert "x-amz-security-token" in token_fake.received[0].headers["authorization"]
    assert [m["message_id"] for m in token_fake.sms_messages()] == [result.provider_message_id]


async def test_no_error_message_holds_a_credential(
    token_fake: SnsFake, http: httpx.AsyncClient
) -> None:
    # A wrong secret with a valid token: AWS's answer quotes the canonical request, which
    # holds the X-Amz-Security-Token header.
    sender = provider(token_fake, http, secret_access_key="wrong", session_token=TOKEN)
    with pytest.raises(Misconfigured) as failure:
        await sender.send_sms(sms())

    assert failure.value.code == "SignatureDoesNotMatch"
    for secret in (TOKEN, SECRET, "wrong"):
        assert secret not in failure.value.message
        assert secret not in str(failure.value)

    with pytest.raises(Misconfigured) as failure:
        await provider(token_fake, http, session_token="b3RoZXI=").send_sms(sms())
    assert failure.value.code == "InvalidClientTokenId"


async def test_timeout_is_retryable(fake: SnsFake, http: httpx.AsyncClient) -> None:
    fake.hang_next()

    with pytest.raises(Retryable) as failure:
        await provider(fake, http, timeout_seconds=0.3).send_sms(sms())

    assert failure.value.code == "timeout"


async def test_without_botocore_the_provider_is_misconfigured(
    fake: SnsFake, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "botocore.auth", None)

    with pytest.raises(Misconfigured) as failure:
        await provider(fake, http).send_sms(sms())

    assert failure.value.code == "missing_dependency"
    assert "phonegate[aws]" in failure.value.message
    assert fake.received == []


def test_the_endpoint_follows_the_region() -> None:
    base = {"access_key_id": KEY, "secret_access_key": SECRET}
    assert SnsConfig(region="us-east-1", **base).endpoint == "https://sns.us-east-1.amazonaws.com"
    assert (
        SnsConfig(region="cn-north-1", **base).endpoint == "https://sns.cn-north-1.amazonaws.com.cn"
    )
    assert (
        SnsConfig(region="us-east-1", base_url="https://proxy.example/sns", **base).endpoint
        == "https://proxy.example/sns"
    )
    config = SnsConfig(region="us-east-1", **base)
    assert (config.sms_type, config.timeout_seconds, config.max_price) == (
        "Transactional",
        10.0,
        None,
    )
    assert SnsConfig(region="us-east-1", max_price="0.5", **base).max_price == Decimal("0.5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region", "Europe"),
        ("region", "us-east"),
        ("access_key_id", "short"),
        ("secret_access_key", ""),
        ("session_token", "not base64!"),
        ("sender_id", "123456"),
        ("sender_id", "ACME-OTP"),
        ("sender_id", "TWELVECHARSX"),
        ("sms_type", "Urgent"),
        ("origination_number", "15550100"),
        ("max_price", "0"),
        ("base_url", "ftp://sns.example"),
        ("base_url", "sns.us-east-1.amazonaws.com"),
        ("timeout_seconds", 0),
        ("timeout_seconds", 61),
        ("endpoint_region", "us-east-1"),
    ],
)
def test_bad_configuration_is_refused(field: str, value: object) -> None:
    settings: dict[str, object] = {
        "region": "us-east-1",
        "access_key_id": KEY,
        "secret_access_key": SECRET,
        field: value,
    }
    with pytest.raises(ValidationError) as failure:
        SnsConfig(**settings)
    assert failure.value.errors()[0]["loc"] == (field,)


async def test_sms_is_the_only_channel(http: httpx.AsyncClient) -> None:
    config = SnsConfig(region="us-east-1", access_key_id=KEY, secret_access_key=SECRET)
    assert SnsProvider(config, http).channels == frozenset({"sms"})
