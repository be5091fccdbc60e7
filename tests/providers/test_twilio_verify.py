"""TwilioVerifyProvider against TwilioFake over real HTTP (providers-wire.md §1.6): custom-code
sends over sms and call, hosted start and check, and the Fraud Guard feedback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from phonegate.providers.base import (
    ChannelName,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
    SendResult,
)
from phonegate.providers.twilio_common import TwilioApi
from phonegate.providers.twilio_verify import ERRORS, TwilioVerifyConfig, TwilioVerifyProvider
from tests.fakes.server import basic_auth
from tests.fakes.twilio import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    SERVICE_SID,
    TwilioFake,
)
from tests.providers.sending import CODE, outgoing, send

TO = "+15558675310"
VERIFY_CHANNEL = {"sms": "sms", "voice": "call"}


@pytest.fixture(scope="module")
def server() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def fake(server: TwilioFake) -> Iterator[TwilioFake]:
    yield server
    assert server.spec_errors == []


def provider(fake: TwilioFake, http: httpx.AsyncClient, **overrides: Any) -> TwilioVerifyProvider:
    settings = {
        "sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "service_sid": SERVICE_SID,
        "base_url": fake.url,
    }
    return TwilioVerifyProvider(TwilioVerifyConfig.model_validate(settings | overrides), http)


def hosted(fake: TwilioFake, http: httpx.AsyncClient) -> TwilioVerifyProvider:
    return provider(fake, http, mode="hosted")


def message(
    channel: ChannelName = "sms", to: str = TO, code: str | None = CODE, **extra: Any
) -> OutgoingMessage:
    return outgoing(to, channel, text="unused", code=code, **extra)


VERIFICATIONS = f"/v2/Services/{SERVICE_SID}/Verifications"


# -- custom_code: the contract over sms and call ----------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_custom_code_is_sent_through_verify(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    result = await send(provider(fake, http), message(channel, locale="pt"))

    (entry,) = fake.received
    assert entry.method == "POST" and entry.path == VERIFICATIONS
    assert entry.headers["authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    assert entry.headers["content-type"] == "application/x-www-form-urlencoded"
    assert entry.form == {
        "To": [TO],
        "Channel": [VERIFY_CHANNEL[channel]],
        "CustomCode": [CODE],
        "Locale": ["pt-BR"],
    }
    (verification,) = fake.verifications
    assert verification.code == CODE and verification.channel == VERIFY_CHANNEL[channel]
    assert result == SendResult("twilio_verify", verification.sid, "sent")


@pytest.mark.parametrize(
    ("locale", "sent"),
    [
        ("en", "en"),
        ("en-GB", "en-GB"),
        ("es-MX", "es"),
        ("fr-CA", "fr"),
        ("de", "de"),
        ("pt", "pt-BR"),
        ("pt_PT", "pt"),
        ("it", "it"),
        ("nl", "nl"),
        ("ja", "ja"),
        ("zh", "zh"),
        ("ko", "ko"),
        ("ar", "ar"),
        ("hi", "hi"),
        ("xx", None),
    ],
)
async def test_locale_is_mapped_or_left_to_verify(
    fake: TwilioFake, http: httpx.AsyncClient, locale: str, sent: str | None
) -> None:
    await provider(fake, http).send_sms(message(locale=locale))
    assert fake.received[0].form.get("Locale") == ([sent] if sent else None)


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_unavailable_is_retryable_then_success(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    verify = provider(fake, http)
    fake.fail_next(503)
    with pytest.raises(Retryable) as caught:
        await send(verify, message(channel))
    assert caught.value.code == "20503"

    result = await send(verify, message(channel))
    assert result.provider_message_id == fake.verifications[0].sid


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_throttling_is_retryable_after_the_header(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    fake.fail_next(429, headers={"Retry-After": "3"})
    with pytest.raises(Retryable) as caught:
        await send(provider(fake, http), message(channel))
    assert caught.value.code == "20429" and caught.value.retry_after == 3.0


@pytest.mark.parametrize(
    ("channel", "number", "code"),
    [
        ("sms", "+15005550001", "60200"),
        ("sms", "+15005550003", "60605"),
        ("sms", "+15005550006", "60410"),
        ("sms", "+15005550009", "60205"),
        ("voice", "+15005550001", "60200"),
        ("voice", "+15005550003", "60605"),
    ],
)
async def test_refused_destination_is_rejected(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName, number: str, code: str
) -> None:
    with pytest.raises(Rejected) as caught:
        await send(provider(fake, http), message(channel, to=number))
    assert caught.value.code == code
    assert fake.verifications == []


async def test_landline_takes_a_call_where_sms_is_refused(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    result = await provider(fake, http).place_call(message("voice", to="+15005550009"))
    assert result.provider_message_id == fake.verifications[0].sid


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_bad_credentials_are_misconfigured(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await send(provider(fake, http, auth_token="not-the-token"), message(channel))
    assert caught.value.code == "20003"
    assert "not-the-token" not in str(caught.value) and AUTH_TOKEN not in str(caught.value)


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_timeout_is_retryable(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    fake.hang_next()
    with pytest.raises(Retryable) as caught:
        await send(provider(fake, http, timeout_seconds=0.3), message(channel))
    assert caught.value.code == "timeout"


async def test_resend_reuses_the_verification_until_verify_refuses(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    verify = provider(fake, http)
    sids = {
        (await verify.send_sms(message(code=f"{n}{n}{n}{n}{n}{n}"))).provider_message_id
        for n in range(5)
    }
    assert sids == {fake.verifications[0].sid}
    assert fake.verifications[0].code == "444444"  # the newest code is the one delivered

    with pytest.raises(Rejected) as caught:
        await verify.send_sms(message())
    assert caught.value.code == "60203"


async def test_message_without_a_code_is_rejected_unsent(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Rejected) as caught:
        await provider(fake, http).send_sms(message(code=None))
    assert caught.value.code == "no_code"
    assert fake.received == []


async def test_api_key_authenticates_for_the_account(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    verify = provider(fake, http, api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET)
    result = await verify.place_call(message("voice"))
    assert fake.received[0].headers["authorization"] == basic_auth(API_KEY_SID, API_KEY_SECRET)
    assert fake.verifications[0].account_sid == ACCOUNT_SID
    assert result.provider_message_id == fake.verifications[0].sid


# -- Fraud Guard feedback ---------------------------------------------------------------------


async def test_report_success_by_sid(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    verify = provider(fake, http)
    sent = await verify.send_sms(message())
    await verify.report_success(TO, sent.provider_message_id)

    entry = fake.received[-1]
    assert entry.path == f"{VERIFICATIONS}/{sent.provider_message_id}"
    assert entry.form == {"Status": ["approved"]}
    assert fake.verifications[0].status == "approved"


async def test_report_success_by_number_encodes_the_plus(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    urls: list[str] = []

    async def keep(request: httpx.Request) -> None:
        urls.append(str(request.url))

    http.event_hooks["request"].append(keep)
    verify = provider(fake, http)
    await verify.send_sms(message())
    await verify.report_success(TO, None)

    assert urls[-1] == f"{fake.url}{VERIFICATIONS}/%2B15558675310"
    assert fake.received[-1].form == {"Status": ["approved"]}
    assert fake.verifications[0].status == "approved"


async def test_report_success_twice_is_not_an_error(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    verify = provider(fake, http)
    sent = await verify.send_sms(message())
    await verify.report_success(TO, sent.provider_message_id)
    await verify.report_success(TO, sent.provider_message_id)  # Verify answers 404 now
    await verify.report_success("+15550000000", None)  # nothing pending for this number


async def test_report_success_failure_is_raised(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    verify = provider(fake, http)
    sent = await verify.send_sms(message())
    fake.fail_next(503)
    with pytest.raises(Retryable):
        await verify.report_success(TO, sent.provider_message_id)


# -- hosted mode ----------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_hosted_start_lets_verify_make_the_code(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    verify = hosted(fake, http)
    assert verify.hosted
    result = await verify.start_verification(message(channel, code=None, locale="fr"))

    assert fake.received[0].form == {
        "To": [TO],
        "Channel": [VERIFY_CHANNEL[channel]],
        "Locale": ["fr"],
    }
    (verification,) = fake.verifications
    assert not verification.custom_code and len(verification.code) == 6
    assert result == SendResult("twilio_verify", verification.sid, "sent")


async def test_hosted_check_right_and_wrong_code(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    verify = hosted(fake, http)
    started = await verify.start_verification(message(code=None))
    code = fake.verifications[0].code
    wrong = "000000" if code != "000000" else "111111"

    assert await verify.check_verification(TO, wrong, started.provider_message_id) is False
    assert fake.received[-1].form == {
        "Code": [wrong],
        "VerificationSid": [started.provider_message_id],
    }
    assert await verify.check_verification(TO, code, started.provider_message_id) is True
    assert fake.verifications[0].status == "approved"
    # Approved: Verify no longer knows it, so the same code cannot be used again.
    assert await verify.check_verification(TO, code, started.provider_message_id) is False


async def test_hosted_check_by_number(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    verify = hosted(fake, http)
    await verify.start_verification(message(code=None))
    code = fake.verifications[0].code

    assert await verify.check_verification(TO, code, None) is True
    assert fake.received[-1].form == {"Code": [code], "To": [TO]}


async def test_hosted_check_after_expiry_is_false(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    verify = hosted(fake, http)
    started = await verify.start_verification(message(code=None))
    fake.advance(601)
    code = fake.verifications[0].code
    assert await verify.check_verification(TO, code, started.provider_message_id) is False
    assert fake.verifications[0].status == "expired"


async def test_hosted_check_attempts_run_out(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    verify = hosted(fake, http)
    started = await verify.start_verification(message(code=None))
    code = fake.verifications[0].code
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert await verify.check_verification(TO, wrong, started.provider_message_id) is False

    with pytest.raises(Rejected) as caught:
        await verify.check_verification(TO, code, started.provider_message_id)
    assert caught.value.code == "60202"


async def test_each_mode_refuses_the_others_methods(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    custom, own = provider(fake, http), hosted(fake, http)
    assert not custom.hosted
    calls = [
        own.send_sms(message()),
        own.place_call(message("voice")),
        custom.start_verification(message(code=None)),
        custom.check_verification(TO, CODE, None),
    ]
    for call in calls:
        with pytest.raises(Misconfigured) as caught:
            await call
        assert caught.value.code == "wrong_mode"
    assert fake.received == []
    assert custom.channels == own.channels == {"sms", "voice"}


# -- configuration and error mapping ---------------------------------------------------------

VALID = {"sid": ACCOUNT_SID, "auth_token": "t", "service_sid": SERVICE_SID}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"service_sid": "VA123"}, "service_sid"),
        ({"service_sid": "MG" + "0" * 32}, "service_sid"),
        ({"sid": "AC" + "g" * 32}, "sid"),
        ({"mode": "both"}, "mode"),
        ({"api_key_secret": "s"}, "together"),
        ({"base_url": "verify.twilio.com"}, "http(s)"),
        ({"base_url": "https://verify.twilio.com?x=1"}, "query"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"from": "+15017122661"}, "from"),
    ],
)
def test_config_refuses_bad_values(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TwilioVerifyConfig.model_validate(VALID | change)
    assert complaint in str(caught.value)


def test_config_defaults() -> None:
    config = TwilioVerifyConfig.model_validate(VALID | {"base_url": "https://verify.example/"})
    assert config.mode == "custom_code" and config.timeout_seconds == 10.0
    assert config.base_url == "https://verify.example"
    assert TwilioVerifyConfig.model_validate(VALID).base_url == "https://verify.twilio.com"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, 20003, Misconfigured),
        (404, 20404, Misconfigured),
        (429, 20429, Retryable),
        (429, 60212, Retryable),
        (400, 60200, Rejected),
        (429, 60202, Rejected),
        (429, 60203, Rejected),
        (400, 60205, Rejected),
        (403, 60410, Rejected),
        (403, 60605, Rejected),
        (503, 60999, Retryable),
    ],
)
async def test_verify_codes_map_to_error_kinds(
    http: httpx.AsyncClient, status: int, code: int, kind: type[ProviderError]
) -> None:
    config = TwilioVerifyConfig.model_validate(VALID)
    api = TwilioApi(config, config.base_url, http, provider="twilio_verify", errors=ERRORS)
    answer = httpx.Response(status, json={"code": code, "message": "m", "status": status})
    with pytest.raises(ProviderError) as caught:
        api.raise_for_error(answer)
    assert type(caught.value) is kind
    assert caught.value.code == str(code)
