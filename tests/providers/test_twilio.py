"""TwilioProvider (Programmable Messaging and Voice) against TwilioFake over real HTTP, plus
its TwiML, signature and receipt functions (providers-wire.md §1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from phonegate.providers.base import (
    ChannelName,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Receipt,
    ReceiptStatus,
    Rejected,
    Retryable,
    SendResult,
)
from phonegate.providers.twilio import (
    ERRORS,
    TwilioConfig,
    TwilioProvider,
    parse_receipt,
    valid_signature,
    voice_twiml,
)
from phonegate.providers.twilio_common import TwilioApi
from tests.fakes.server import FakeServer, basic_auth
from tests.fakes.twilio import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    EXAMPLE_CALLBACK_PARAMS,
    EXAMPLE_CALLBACK_SIGNATURE,
    EXAMPLE_CALLBACK_URL,
    TwilioFake,
)
from tests.fakes.twilio_resources import parse_twiml
from tests.providers.sending import CODE, outgoing, send

SENDER = "+15017122661"
SERVICE = "MG" + "ab" * 16
TO = "+15558675310"
SPOKEN = "4, 8, 2, 9, 1, 3"
SMS_TEXT = f"{CODE} is your verification code for Acme"
VOICE_TEXT = f"Your verification code for Acme is ... {SPOKEN}. I repeat, your code is ... {SPOKEN}"


class CallbackReceiver(FakeServer):
    """Where the fake's status callbacks land: records them and answers 204."""

    def routes(self) -> list[BaseRoute]:
        async def status(request: Request) -> Response:
            await self.record(request)
            return Response(status_code=204)

        return [Route("/twilio/status", status, methods=["POST"])]


@pytest.fixture(scope="module")
def server() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def fake(server: TwilioFake) -> Iterator[TwilioFake]:
    yield server
    assert server.spec_errors == []


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as sink:
        yield sink


def provider(fake: TwilioFake, http: httpx.AsyncClient, **overrides: Any) -> TwilioProvider:
    settings = {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": SENDER, "base_url": fake.url}
    return TwilioProvider(TwilioConfig.model_validate(settings | overrides), http)


def message(channel: ChannelName = "sms", to: str = TO, **extra: Any) -> OutgoingMessage:
    text = VOICE_TEXT if channel == "voice" else SMS_TEXT
    return outgoing(to, channel, text=text, **extra)


def last_sid(fake: TwilioFake, channel: ChannelName) -> str:
    return fake.calls[-1].sid if channel == "voice" else fake.messages[-1].sid


# -- the contract: success, retry, rejection, credentials, timeout ---------------------------


async def test_sms_sends_the_right_form(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    sms = message(callback_url="https://otp.example.test/cb", valid_for_seconds=300)
    result = await provider(fake, http).send_sms(sms)

    (entry,) = fake.received
    assert entry.method == "POST"
    assert entry.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert entry.headers["authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    assert entry.headers["content-type"] == "application/x-www-form-urlencoded"
    assert entry.form == {
        "To": [TO],
        "From": [SENDER],
        "Body": [SMS_TEXT],
        "StatusCallback": ["https://otp.example.test/cb"],
        "ValidityPeriod": ["300"],
    }
    assert result == SendResult("twilio", fake.messages[0].sid, "queued")
    assert result.provider_message_id is not None
    assert result.provider_message_id.startswith("SM")


async def test_voice_sends_inline_twiml(fake: TwilioFake, http: httpx.AsyncClient) -> None:
    voice = message("voice", callback_url="https://otp.example.test/cb")
    result = await provider(fake, http).place_call(voice)

    (entry,) = fake.received
    assert entry.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert entry.headers["authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    assert set(entry.form) == {
        "To",
        "From",
        "Twiml",
        "Timeout",
        "StatusCallback",
        "StatusCallbackEvent",
    }
    assert entry.form["To"] == [TO] and entry.form["From"] == [SENDER]
    assert entry.form["Timeout"] == ["30"]
    assert entry.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    call = fake.calls[0]
    assert call.spoken.count(SPOKEN) == 2
    assert result == SendResult("twilio", call.sid, "queued")


async def test_no_callback_url_sends_no_callback_fields(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    twilio = provider(fake, http)
    await twilio.send_sms(message())
    await twilio.place_call(message("voice"))

    sms, call = fake.received
    assert set(sms.form) == {"To", "From", "Body"}
    assert set(call.form) == {"To", "From", "Twiml", "Timeout"}


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_unavailable_is_retryable_then_success(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    twilio = provider(fake, http)
    fake.fail_next(503)
    with pytest.raises(Retryable) as caught:
        await send(twilio, message(channel))
    assert caught.value.code == "20503"

    result = await send(twilio, message(channel))
    assert result.provider_message_id == last_sid(fake, channel)


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_throttling_is_retryable_after_the_header(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    fake.fail_next(429, headers={"Retry-After": "7"})
    with pytest.raises(Retryable) as caught:
        await send(provider(fake, http), message(channel))
    assert caught.value.code == "20429"
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("channel", "number", "code"),
    [
        ("sms", "+15005550001", "21211"),
        ("sms", "+15005550002", "21612"),
        ("sms", "+15005550003", "21408"),
        ("sms", "+15005550004", "21610"),
        ("sms", "+15005550009", "21614"),
        ("voice", "+15005550001", "21217"),
        ("voice", "+15005550002", "21214"),
        ("voice", "+15005550003", "21215"),
        ("voice", "+15005550004", "21216"),
    ],
)
async def test_refused_destination_is_rejected(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName, number: str, code: str
) -> None:
    with pytest.raises(Rejected) as caught:
        await send(provider(fake, http), message(channel, to=number))
    assert caught.value.code == code
    assert number not in caught.value.message  # the number is masked
    assert fake.messages == [] and fake.calls == []


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_bad_credentials_are_misconfigured(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await send(provider(fake, http, auth_token="not-the-token"), message(channel))
    assert caught.value.code == "20003"
    assert "not-the-token" not in str(caught.value)


@pytest.mark.parametrize(("sender", "code"), [("+15005550001", "21212"), ("+15005550007", "21606")])
async def test_bad_sender_is_misconfigured(
    fake: TwilioFake, http: httpx.AsyncClient, sender: str, code: str
) -> None:
    with pytest.raises(Misconfigured) as caught:
        await provider(fake, http, **{"from": sender}).send_sms(message())
    assert caught.value.code == code


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_timeout_is_retryable(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    fake.hang_next()
    with pytest.raises(Retryable) as caught:
        await send(provider(fake, http, timeout_seconds=0.3), message(channel))
    assert caught.value.code == "timeout"


async def test_no_error_message_holds_a_credential(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    keyed = {"api_key_sid": API_KEY_SID, "api_key_secret": API_KEY_SECRET}
    attempts = [
        (provider(fake, http, auth_token="wrong-token-71c3"), message(), None),
        (provider(fake, http, **keyed | {"api_key_secret": "wrong-secret-5e2a"}), message(), None),
        (provider(fake, http), message(to="+15005550001"), None),
        (provider(fake, http, **keyed), message("voice", to="+15005550004"), None),
        (provider(fake, http, **keyed), message("voice"), 500),
    ]
    errors: list[ProviderError] = []
    for twilio, outgoing_message, failure in attempts:
        if failure:
            fake.fail_next(failure)
        with pytest.raises(ProviderError) as caught:
            await send(twilio, outgoing_message)
        errors.append(caught.value)

    assert len(errors) == 5
    for error in errors:
        for secret in (AUTH_TOKEN, API_KEY_SECRET, "wrong-token-71c3", "wrong-secret-5e2a"):
            assert secret not in str(error) and secret not in repr(error.args)


# -- senders, validity, API keys --------------------------------------------------------------


async def test_messaging_service_picks_the_sender(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    twilio = provider(fake, http, messaging_service_sid=SERVICE, **{"from": None})
    result = await twilio.send_sms(message())

    assert fake.received[0].form == {
        "To": [TO],
        "Body": [SMS_TEXT],
        "MessagingServiceSid": [SERVICE],
    }
    assert fake.messages[0].status == "accepted"  # what Twilio answers for a service send
    assert result == SendResult("twilio", fake.messages[0].sid, "queued")


async def test_messaging_service_sends_sms_while_from_places_calls(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    twilio = provider(fake, http, messaging_service_sid=SERVICE)
    await twilio.send_sms(message())
    await twilio.place_call(message("voice"))

    sms, call = fake.received
    assert "From" not in sms.form and sms.form["MessagingServiceSid"] == [SERVICE]
    assert call.form["From"] == [SENDER]


@pytest.mark.parametrize(("seconds", "sent"), [(300, "300"), (100_000, "36000"), (0, "1")])
async def test_validity_period_is_clamped(
    fake: TwilioFake, http: httpx.AsyncClient, seconds: int, sent: str
) -> None:
    await provider(fake, http).send_sms(message(valid_for_seconds=seconds))
    assert fake.received[0].form["ValidityPeriod"] == [sent]
    assert fake.messages[0].validity_period == int(sent)


@pytest.mark.parametrize("channel", ["sms", "voice"])
async def test_api_key_authenticates_for_the_account(
    fake: TwilioFake, http: httpx.AsyncClient, channel: ChannelName
) -> None:
    twilio = provider(fake, http, api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET)
    result = await send(twilio, message(channel))

    (entry,) = fake.received
    assert entry.headers["authorization"] == basic_auth(API_KEY_SID, API_KEY_SECRET)
    assert f"/Accounts/{ACCOUNT_SID}/" in entry.path
    assert result.provider_message_id == last_sid(fake, channel)


# -- voice TwiML ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "language", "voice"),
    [
        ("en", "en-US", "Polly.Joanna"),
        ("es", "es-ES", "Polly.Lucia"),
        ("fr-CA", "fr-CA", "Polly.Chantal"),
        ("fr-BE", "fr-FR", "Polly.Celine"),
        ("de_AT", "de-DE", "Polly.Marlene"),
        ("pt", "pt-BR", "Polly.Camila"),
        ("pt-BR", "pt-BR", "Polly.Camila"),
        ("it", "it-IT", "Polly.Carla"),
        ("nl", "nl-NL", "Polly.Lotte"),
        ("ja", "ja-JP", "Polly.Mizuki"),
        ("zh", "cmn-CN", "Polly.Zhiyu"),
        ("ko", "ko-KR", "Polly.Seoyeon"),
        ("ar", "arb", "Polly.Zeina"),
        ("hi", "hi-IN", "Polly.Aditi"),
        ("xx-YY", "en-US", "Polly.Joanna"),
    ],
)
def test_twiml_voice_follows_the_locale(locale: str, language: str, voice: str) -> None:
    says, _ = parse_twiml(voice_twiml(VOICE_TEXT, CODE, locale))
    assert says and all((s.language, s.voice) == (language, voice) for s in says)


def test_twiml_splits_on_pauses_and_keeps_a_code_said_twice() -> None:
    says, pauses = parse_twiml(voice_twiml(VOICE_TEXT, CODE, "en"))
    assert [s.text for s in says] == [
        "Your verification code for Acme is",
        f"{SPOKEN}. I repeat, your code is",
        SPOKEN,
    ]
    assert pauses == 2


def test_twiml_repeats_a_code_said_once() -> None:
    says, pauses = parse_twiml(voice_twiml(f"Your code is ... {SPOKEN}", CODE, "en"))
    assert [s.text for s in says] == ["Your code is", SPOKEN, f"{SPOKEN}."]
    assert pauses == 2


def test_twiml_reads_a_code_missing_from_the_text() -> None:
    says, pauses = parse_twiml(voice_twiml("Hello from Acme", CODE, "en"))
    assert [s.text for s in says] == ["Hello from Acme", f"{SPOKEN}."]
    assert pauses == 1


def test_twiml_escapes_the_text() -> None:
    text = 'Tom & Jerry say <Play>http://evil.example</Play> "hi"'
    twiml = voice_twiml(text, None, "en")
    assert "<Play>" not in twiml and "&amp;" in twiml and "&lt;Play&gt;" in twiml
    says, pauses = parse_twiml(twiml)
    assert [s.text for s in says] == [text] and pauses == 0


async def test_twiml_over_4000_characters_is_rejected_unsent(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    long = OutgoingMessage(
        tenant_id="t1", recipient=TO, channel="voice", text="a " * 2000, code=CODE
    )
    with pytest.raises(Rejected) as caught:
        await provider(fake, http).place_call(long)
    assert caught.value.code == "twiml_too_long"
    assert fake.received == []


# -- configuration --------------------------------------------------------------------------

VALID = {"sid": ACCOUNT_SID, "auth_token": "t", "from": SENDER}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"sid": "AC123"}, "sid"),
        ({"sid": "XX" + "0" * 32}, "sid"),
        ({"from": None}, "from or messaging_service_sid"),
        ({"from": "+0123456"}, "E.164"),
        ({"from": "ABCDEFGHIJKL"}, "alphanumeric"),
        ({"from": "12345"}, "alphanumeric"),
        ({"messaging_service_sid": "MG123"}, "messaging_service_sid"),
        ({"api_key_sid": API_KEY_SID}, "together"),
        ({"api_key_sid": "SKnothex", "api_key_secret": "s"}, "api_key_sid"),
        ({"base_url": "ftp://api.twilio.com"}, "http(s)"),
        ({"base_url": "api.twilio.com"}, "http(s)"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 61}, "timeout_seconds"),
        ({"region": "ie1"}, "region"),
    ],
)
def test_config_refuses_bad_values(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TwilioConfig.model_validate(VALID | change)
    assert complaint in str(caught.value)


def test_config_keeps_secrets_secret() -> None:
    config = TwilioConfig.model_validate(
        VALID | {"auth_token": AUTH_TOKEN, "api_key_sid": API_KEY_SID, "api_key_secret": "k3y"}
    )
    assert AUTH_TOKEN not in repr(config) and "k3y" not in repr(config)
    assert config.base_url == "https://api.twilio.com" and config.timeout_seconds == 10.0


@pytest.mark.parametrize(
    ("senders", "channels"),
    [
        ({"from": SENDER}, {"sms", "voice"}),
        ({"from": SENDER, "messaging_service_sid": SERVICE}, {"sms", "voice"}),
        ({"from": None, "messaging_service_sid": SERVICE}, {"sms"}),
        ({"from": "Acme 2FA"}, {"sms"}),  # a sender id cannot be a caller id
    ],
)
async def test_channels_follow_the_senders(
    fake: TwilioFake, http: httpx.AsyncClient, senders: dict[str, Any], channels: set[str]
) -> None:
    assert provider(fake, http, **senders).channels == channels


async def test_call_without_a_caller_id_is_misconfigured(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    twilio = provider(fake, http, messaging_service_sid=SERVICE, **{"from": None})
    with pytest.raises(Misconfigured) as caught:
        await twilio.place_call(message("voice"))
    assert caught.value.code == "no_voice_sender"
    assert fake.received == []


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, 20003, Misconfigured),
        (400, 20008, Misconfigured),
        (401, 10001, Misconfigured),
        (400, 10002, Misconfigured),
        (400, 21210, Misconfigured),
        (400, 21213, Misconfigured),
        (400, 21603, Misconfigured),
        (400, 21608, Misconfigured),
        (400, 21659, Misconfigured),
        (429, 20429, Retryable),
        (400, 21617, Rejected),
        (403, 21408, Rejected),
        (400, 29999, Rejected),  # unlisted 4xx
        (502, 29999, Retryable),  # unlisted 5xx
    ],
)
async def test_twilio_codes_map_to_error_kinds(
    http: httpx.AsyncClient, status: int, code: int, kind: type[ProviderError]
) -> None:
    config = TwilioConfig.model_validate(VALID)
    api = TwilioApi(config, config.base_url, http, provider="twilio", errors=ERRORS)
    answer = httpx.Response(status, json={"code": code, "message": "m", "status": status})
    with pytest.raises(ProviderError) as caught:
        api.raise_for_error(answer)
    assert type(caught.value) is kind
    assert caught.value.code == str(code)


# -- X-Twilio-Signature (§1.7 worked examples) ------------------------------------------------

EXAMPLE_1_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
EXAMPLE_1_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
EXAMPLE_3_BODY = b'{"property": "value", "boolean": true}'
EXAMPLE_3_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


def test_signature_worked_example_1() -> None:
    signature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert valid_signature("12345", EXAMPLE_1_URL, EXAMPLE_1_PARAMS, signature)
    tampered = EXAMPLE_1_PARAMS | {"Digits": "1235"}
    assert not valid_signature("12345", EXAMPLE_1_URL, tampered, signature)
    assert not valid_signature("54321", EXAMPLE_1_URL, EXAMPLE_1_PARAMS, signature)


def test_signature_worked_example_2() -> None:
    assert valid_signature(
        "test-auth-token",
        EXAMPLE_CALLBACK_URL,
        EXAMPLE_CALLBACK_PARAMS,
        EXAMPLE_CALLBACK_SIGNATURE,
    )


def test_signature_worked_example_3_json_body() -> None:
    url = f"https://mycompany.com/myapp?bodySHA256={EXAMPLE_3_HASH}"
    signature = "UEGkzoW/cP+5rgfjjBKC7Wch1b4="
    assert valid_signature("12345", url, {}, signature, body=EXAMPLE_3_BODY)
    assert not valid_signature("12345", url, {}, signature, body=EXAMPLE_3_BODY + b" ")
    assert not valid_signature("12345", url, {}, signature)


@pytest.mark.parametrize(
    "url",
    [
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php?foo=1&bar=2",
    ],
)
def test_signature_accepts_the_default_port_either_way(url: str) -> None:
    assert valid_signature("12345", url, EXAMPLE_1_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_signature_does_not_drop_a_non_default_port() -> None:
    url = "https://mycompany.com:8443/myapp.php?foo=1&bar=2"
    assert not valid_signature("12345", url, EXAMPLE_1_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_signature_sorts_a_repeated_keys_values() -> None:
    url = "https://otp.example.test/cb"
    payload = url + "EventansweredEventringingTo+1555"
    expected = base64.b64encode(hmac.new(b"tok", payload.encode(), hashlib.sha1).digest()).decode()
    params = {"To": "+1555", "Event": ["ringing", "answered"]}
    assert valid_signature("tok", url, params, expected)
    assert not valid_signature("tok", url, params, expected[:-2] + "A=")
    assert not valid_signature("tok", url, params, "not ascii: é")


# -- receipts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("queued", "queued"),
        ("accepted", "queued"),
        ("scheduled", "queued"),
        ("sending", "queued"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_message_receipts(twilio_status: str, status: ReceiptStatus) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": twilio_status, "SmsStatus": twilio_status}
    assert parse_receipt(form) == Receipt("SM1", status)


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("queued", "queued"),
        ("initiated", "queued"),
        ("ringing", "sent"),
        ("in-progress", "sent"),
        ("completed", "delivered"),
        ("busy", "undelivered"),
        ("no-answer", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_call_receipts(twilio_status: str, status: ReceiptStatus) -> None:
    form = {"CallSid": "CA1", "CallStatus": twilio_status, "Direction": "outbound-api"}
    assert parse_receipt(form) == Receipt("CA1", status)


@pytest.mark.parametrize(
    "form",
    [
        {"MessageSid": "SM1", "MessageStatus": "receiving"},
        {"MessageStatus": "delivered"},
        {"CallSid": "CA1"},
        {"Body": "hello"},
    ],
)
def test_receipt_of_something_else_is_none(form: dict[str, str]) -> None:
    assert parse_receipt(form) is None


def test_receipt_keeps_the_error_code() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30007"}
    assert parse_receipt(form) == Receipt("SM1", "undelivered", "30007")
    assert parse_receipt(form | {"ErrorCode": ""}) == Receipt("SM1", "undelivered")


@pytest.mark.parametrize(
    ("channel", "statuses", "receipts", "error_code"),
    [
        ("sms", ["sent", "delivered"], ["sent", "delivered"], None),
        ("sms", ["sent", "undelivered"], ["sent", "undelivered"], "30007"),
        (
            "voice",
            ["initiated", "ringing", "in-progress", "completed"],
            ["queued", "sent", "sent", "delivered"],
            None,
        ),
    ],
)
async def test_signed_callbacks_from_the_fake_become_receipts(
    fake: TwilioFake,
    receiver: CallbackReceiver,
    http: httpx.AsyncClient,
    channel: ChannelName,
    statuses: list[str],
    receipts: list[str],
    error_code: str | None,
) -> None:
    receiver.reset()
    url = f"{receiver.url}/twilio/status"
    result = await send(provider(fake, http), message(channel, callback_url=url))
    answers = await fake.send_status_callbacks(
        result.provider_message_id or "", statuses, error_code=error_code
    )

    assert answers == [204] * len(statuses)
    parsed = []
    for entry in receiver.received:
        form = entry.params
        assert valid_signature(AUTH_TOKEN, url, form, entry.headers["x-twilio-signature"])
        assert not valid_signature("other-token", url, form, entry.headers["x-twilio-signature"])
        parsed.append(parse_receipt(form))
    assert [r.status for r in parsed if r] == receipts
    assert {r.provider_message_id for r in parsed if r} == {result.provider_message_id}
    assert parsed[-1] is not None and parsed[-1].error_code == error_code


async def test_a_template_sender_overrides_the_configured_one(
    fake: TwilioFake, http: httpx.AsyncClient
) -> None:
    # Branding templates may name their own sender (content.from): it wins over the pool.
    pooled = provider(fake, http, messaging_service_sid="MG" + "a" * 32)
    await pooled.send_sms(message(sender="+15005550006"))
    form = fake.received[-1].form
    assert form["From"] == ["+15005550006"] and "MessagingServiceSid" not in form
    await pooled.place_call(message("voice", sender="+15005550006"))
    assert fake.received[-1].form["From"] == ["+15005550006"]
    # An alphanumeric sender cannot be a caller id: the call keeps the configured number.
    await pooled.place_call(message("voice", sender="ACME"))
    assert fake.received[-1].form["From"] == [SENDER]
