"""The webhook provider against a receiver on 127.0.0.1 that checks its auth and signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from phonegate.outbound import outbound_client
from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
)
from phonegate.providers.webhook import (
    WebhookConfig,
    WebhookProvider,
    sign,
    verify_signature,
)
from tests.fakes.webhook import WebhookFake

SIGNING_SECRET = "whsec_c2lnbmluZy1zZWNyZXQ"
AUTHORIZATION = "Bearer tok_9f8e7d6c5b4a"

MESSAGE = OutgoingMessage(
    tenant_id="ten_1",
    recipient="+15555550123",
    channel="sms",
    text='123456 is your code for "Acme"',
    code="123456",
    locale="fr",
    message_id="msg_1",
    kind="enrollment",
    callback_url="https://phonegate.example/callbacks/webhook",
    metadata={"user": {"name": "Jane Doe"}, "tenant": {"friendly_name": "Acme"}},
)


@pytest.fixture(scope="module")
def fake() -> Iterator[WebhookFake]:
    with WebhookFake(signing_secret=SIGNING_SECRET, authorization=AUTHORIZATION) as server:
        yield server


def provider(http: httpx.AsyncClient, url: str, **overrides: Any) -> WebhookProvider:
    values: dict[str, Any] = {
        "url": url,
        "signing_secret": SIGNING_SECRET,
        "authorization": AUTHORIZATION,
        "timeout_seconds": 2,
        **overrides,
    }
    return WebhookProvider(WebhookConfig(**values), http)


async def test_sms_is_posted_signed_with_the_rendered_body(
    fake: WebhookFake, http: httpx.AsyncClient
) -> None:
    before = int(time.time())
    result = await provider(http, fake.endpoint).send_sms(MESSAGE)

    assert result.provider == "webhook"
    assert result.status == "sent"
    assert result.provider_message_id == fake.issued[-1] == "wh_1"
    [request] = fake.accepted
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == AUTHORIZATION
    assert request.json == {
        "recipient": "+15555550123",
        "text": '123456 is your code for "Acme"',
        "code": "123456",
        "channel": "sms",
        "kind": "enrollment",
        "locale": "fr",
        "message_id": "msg_1",
        "callback_url": "https://phonegate.example/callbacks/webhook",
    }
    # The signature is the documented HMAC over "<t>.<raw body>", made at send time.
    fields = dict(
        part.split("=", 1) for part in request.headers["x-phonegate-signature"].split(",")
    )
    assert before <= int(fields["t"]) <= time.time()
    expected = hmac.new(
        SIGNING_SECRET.encode(), fields["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert fields["v1"] == expected


async def test_voice_goes_to_the_same_webhook_with_its_channel(
    fake: WebhookFake, http: httpx.AsyncClient
) -> None:
    call = replace(MESSAGE, channel="voice", code=None, callback_url=None)
    result = await provider(http, fake.endpoint).place_call(call)

    assert result.provider_message_id == fake.issued[-1]
    body = fake.accepted[-1].json
    assert (body["channel"], body["code"], body["callback_url"]) == ("voice", None, None)


@pytest.mark.parametrize("status", [503, 500])
async def test_server_error_is_retryable_and_the_next_send_succeeds(
    fake: WebhookFake, http: httpx.AsyncClient, status: int
) -> None:
    hook = provider(http, fake.endpoint)
    fake.fail_next(status)

    with pytest.raises(Retryable) as caught:
        await hook.send_sms(MESSAGE)
    assert caught.value.code == str(status)

    result = await hook.send_sms(MESSAGE)
    assert result.provider_message_id == fake.issued[-1]
    assert len(fake.accepted) == 1


async def test_429_is_retryable_after_the_time_the_receiver_asks(
    fake: WebhookFake, http: httpx.AsyncClient
) -> None:
    hook = provider(http, fake.endpoint)
    fake.fail_next(429, headers={"Retry-After": "7"})

    with pytest.raises(Retryable) as caught:
        await hook.send_sms(MESSAGE)
    assert (caught.value.code, caught.value.retry_after) == ("429", 7.0)
    assert (await hook.send_sms(MESSAGE)).provider_message_id == fake.issued[-1]


async def test_400_rejects_the_message(fake: WebhookFake, http: httpx.AsyncClient) -> None:
    fake.fail_next(400)
    with pytest.raises(Rejected) as caught:
        await provider(http, fake.endpoint).send_sms(MESSAGE)
    assert caught.value.code == "400"
    assert fake.accepted == []


@pytest.mark.parametrize(
    "overrides",
    [{"authorization": "Bearer wrong-token"}, {"signing_secret": "whsec_wrong"}],
    ids=["wrong-authorization", "wrong-signing-secret"],
)
async def test_refused_credentials_are_misconfigured(
    fake: WebhookFake, http: httpx.AsyncClient, overrides: dict[str, str]
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(http, fake.endpoint, **overrides).send_sms(MESSAGE)
    assert caught.value.code == "401"
    assert len(fake.received) == 1 and fake.accepted == []


async def test_a_redirect_is_misconfigured(fake: WebhookFake, http: httpx.AsyncClient) -> None:
    fake.fail_next(302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(Misconfigured) as caught:
        await provider(http, fake.endpoint).send_sms(MESSAGE)
    assert caught.value.code == "302"


async def test_a_receiver_that_hangs_times_out(fake: WebhookFake, http: httpx.AsyncClient) -> None:
    fake.hang_next()
    with pytest.raises(Retryable) as caught:
        await provider(http, fake.endpoint, timeout_seconds=0.3).send_sms(MESSAGE)
    assert caught.value.code == "timeout"


async def test_a_custom_template_renders_the_context_in_its_content_type(
    fake: WebhookFake, http: httpx.AsyncClient
) -> None:
    hook = provider(
        http,
        fake.endpoint,
        content_type="text/plain; charset=utf-8",
        body_template="to={{ recipient }} for={{ user.name }} at={{ tenant.friendly_name }} "
        "tenant={{ tenant.id }} say={{ text | upcase }}",
    )
    await hook.send_sms(MESSAGE)

    [request] = fake.accepted
    assert request.headers["content-type"] == "text/plain; charset=utf-8"
    assert request.body.decode() == (
        'to=+15555550123 for=Jane Doe at=Acme tenant=ten_1 say=123456 IS YOUR CODE FOR "ACME"'
    )


@pytest.mark.parametrize(
    ("template", "content_type"),
    [
        # Rendering stops at the sandbox's output bound.
        ("{% for i in (1..1000) %}{{ text }}{% endfor %}", "text/plain"),
        # The text holds quotes: without the json filter the body is not JSON.
        ('{"text": "{{ text }}"}', "application/json"),
    ],
    ids=["output-limit", "not-json"],
)
async def test_a_template_that_cannot_render_is_misconfigured_and_nothing_is_sent(
    fake: WebhookFake, http: httpx.AsyncClient, template: str, content_type: str
) -> None:
    hook = provider(http, fake.endpoint, body_template=template, content_type=content_type)
    with pytest.raises(Misconfigured) as caught:
        await hook.send_sms(MESSAGE)
    assert caught.value.code == "template_error"
    assert fake.received == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:{port}/hooks/phone", "http://10.0.0.1/hook", "http://169.254.169.254/"],
    ids=["loopback", "private", "link-local"],
)
async def test_private_destinations_are_refused_before_anything_is_sent(
    fake: WebhookFake, url: str
) -> None:
    async with outbound_client(allow_private=False) as guarded:
        hook = provider(guarded, url.format(port=fake.port))
        with pytest.raises(Misconfigured) as caught:
            await hook.send_sms(MESSAGE)
    assert caught.value.code == "blocked_destination"
    assert fake.received == []


async def test_no_error_message_holds_a_credential(
    fake: WebhookFake, http: httpx.AsyncClient
) -> None:
    hook = provider(http, fake.endpoint)
    errors: list[ProviderError] = []
    for status in (400, 401, 403, 429, 503):
        fake.fail_next(status)
        with pytest.raises(ProviderError) as caught:
            await hook.send_sms(MESSAGE)
        errors.append(caught.value)
    fake.hang_next()
    with pytest.raises(ProviderError) as caught:
        await provider(http, fake.endpoint, timeout_seconds=0.3).send_sms(MESSAGE)
    errors.append(caught.value)

    assert len(errors) == 6
    for error in errors:
        for secret in (SIGNING_SECRET, AUTHORIZATION, "tok_9f8e7d6c5b4a", MESSAGE.code or ""):
            assert secret not in error.message
            assert secret not in str(error)


def test_verify_signature_accepts_the_signed_body_only() -> None:
    body = json.dumps({"recipient": "+15555550123", "code": "123456"}).encode()
    header = sign(SIGNING_SECRET, body, timestamp=1_700_000_000)

    assert verify_signature(SIGNING_SECRET, header, body, now=1_700_000_100)
    assert not verify_signature(
        SIGNING_SECRET, header, body.replace(b"123456", b"654321"), now=1_700_000_100
    )
    assert not verify_signature("whsec_other", header, body, now=1_700_000_100)


def test_verify_signature_refuses_a_stale_or_future_timestamp() -> None:
    body = b'{"code": "123456"}'
    header = sign(SIGNING_SECRET, body, timestamp=1_700_000_000)

    assert verify_signature(SIGNING_SECRET, header, body, now=1_700_000_300)
    assert not verify_signature(SIGNING_SECRET, header, body, now=1_700_000_301)
    assert not verify_signature(SIGNING_SECRET, header, body, now=1_699_999_000)
    assert not verify_signature(SIGNING_SECRET, header, body, now=1_700_000_060, tolerance=30)


def test_verify_signature_accepts_any_of_several_v1_and_refuses_malformed_headers() -> None:
    body = b"{}"
    good = sign(SIGNING_SECRET, body, timestamp=1_700_000_000)
    rotated = good.replace("t=1700000000,", "t=1700000000,v1=" + "0" * 64 + ",")

    assert verify_signature(SIGNING_SECRET, rotated, body, now=1_700_000_000)
    for header in (
        "",
        "v1=abc",
        "t=abc,v1=abc",
        "t=1700000000",
        good + ",t=1700000000",
        "t=\u0661\u0667,v1=\u00e9",
    ):
        assert not verify_signature(SIGNING_SECRET, header, body, now=1_700_000_000)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "ftp://hooks.example/"),
        ("url", "hooks.example/sms"),
        ("url", "http://"),
        ("body_template", "{% if %}"),
        ("body_template", '{"code": {{ code | json }'),
        ("content_type", "json"),
        ("content_type", "text/plain\r\nX-Injected: 1"),
        ("authorization", "Bearer a\r\nX-Injected: 1"),
        ("timeout_seconds", 0),
        ("timeout_seconds", 61),
        ("retries", 3),
    ],
)
def test_config_refuses_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookConfig(**{"url": "https://hooks.example/sms", field: value})
    assert field in str(caught.value)


def test_config_defaults_and_secrets(http: httpx.AsyncClient) -> None:
    config = WebhookConfig(url="https://hooks.example/sms", authorization=AUTHORIZATION)
    assert config.content_type == "application/json"
    assert config.timeout_seconds == 10.0
    assert config.signing_secret is None
    assert AUTHORIZATION not in repr(config) and AUTHORIZATION not in config.model_dump_json()
    assert WebhookProvider(config, http).channels == {"sms", "voice"}
