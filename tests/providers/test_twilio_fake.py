"""TwilioFake itself: it refuses what Twilio's OpenAPI spec refuses, its answers validate
against the spec, and its auth, magic numbers and Verify state machine behave as §3.6 says."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.twilio import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    EXAMPLE_CALLBACK_PARAMS,
    EXAMPLE_CALLBACK_SIGNATURE,
    EXAMPLE_CALLBACK_URL,
    SERVICE_SID,
    TwilioFake,
    twilio_signature,
)
from tests.fakes.twilio_spec import response_violations

OTHER_ACCOUNT = "AC" + "9" * 32
OTHER_TOKEN = "other-account-token"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
VERIFY = f"/v2/Services/{SERVICE_SID}"
SMS = {"To": "+15558675310", "From": "+15017122661", "Body": "482913 is your code"}
TWIML = '<Response><Say language="en-US">Your code is</Say><Pause length="1"/></Response>'
CALL = {"To": "+15558675310", "From": "+15017122661", "Twiml": TWIML}
RFC_2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def fake() -> Iterator[TwilioFake]:
    accounts = {ACCOUNT_SID: AUTH_TOKEN, OTHER_ACCOUNT: OTHER_TOKEN}
    with TwilioFake(accounts, {API_KEY_SID: (API_KEY_SECRET, ACCOUNT_SID)}) as server:
        yield server


@pytest.fixture
async def client(fake: TwilioFake) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=fake.url, auth=(ACCOUNT_SID, AUTH_TOKEN), trust_env=False
    ) as c:
        yield c


def twilio_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    return body


# -- the spec's refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "form", "code", "field"),
    [
        (MESSAGES, {"From": SMS["From"], "Body": SMS["Body"]}, 21604, "To"),
        (CALLS, {"From": CALL["From"], "Twiml": TWIML}, 21201, "To"),
        (CALLS, {"To": CALL["To"], "Twiml": TWIML}, 21213, "From"),
    ],
)
async def test_missing_required_field_is_a_spec_violation_with_its_code(
    fake: TwilioFake,
    client: httpx.AsyncClient,
    path: str,
    form: dict[str, str],
    code: int,
    field: str,
) -> None:
    twilio_error(await client.post(path, data=form), 400, code)
    assert len(fake.spec_errors) == 1
    assert f"'{field}' is a required property" in fake.spec_errors[0]
    assert fake.messages == [] and fake.calls == []


async def test_bad_account_sid_pattern_is_a_spec_violation(
    fake: TwilioFake, client: httpx.AsyncClient
) -> None:
    response = await client.post("/2010-04-01/Accounts/AC123/Messages.json", data=SMS)
    twilio_error(response, 400, 20400)
    assert any("AccountSid" in error for error in fake.spec_errors)
    assert fake.messages == []


@pytest.mark.parametrize(
    ("path", "form", "code", "complaint"),
    [
        (MESSAGES, SMS | {"ValidityPeriod": "abc"}, 20400, "integer"),
        (MESSAGES, SMS | {"MessagingServiceSid": "MG123"}, 20400, "MessagingServiceSid"),
        (CALLS, CALL | {"Timeout": "soon"}, 20400, "integer"),
        (f"{VERIFY}/Verifications", {"To": "+15558675310"}, 60200, "Channel"),
        (
            "/v2/Services/VA123/Verifications",
            {"To": "+1555", "Channel": "sms"},
            60200,
            "ServiceSid",
        ),
        (f"{VERIFY}/Verifications/VE{'0' * 32}", {"Status": "pending"}, 60200, "pending"),
    ],
)
async def test_other_spec_violations_are_refused(
    fake: TwilioFake,
    client: httpx.AsyncClient,
    path: str,
    form: dict[str, str],
    code: int,
    complaint: str,
) -> None:
    twilio_error(await client.post(path, data=form), 400, code)
    assert fake.spec_errors and complaint in fake.spec_errors[0]


async def test_missing_authorization_is_a_spec_violation_answered_20003(
    fake: TwilioFake,
) -> None:
    async with httpx.AsyncClient(base_url=fake.url, trust_env=False) as anonymous:
        response = await anonymous.post(MESSAGES, data=SMS)
    twilio_error(response, 401, 20003)
    assert response.headers["www-authenticate"].startswith("Basic")
    assert any("Security" in error for error in fake.spec_errors)


# -- responses validate against the spec ---------------------------------------------------


async def test_successful_answers_validate_against_the_spec(
    fake: TwilioFake, client: httpx.AsyncClient
) -> None:
    exchanges = [
        await client.post(MESSAGES, data=SMS | {"ValidityPeriod": "300"}),
        await client.post(
            MESSAGES,
            data={"To": SMS["To"], "Body": SMS["Body"], "MessagingServiceSid": "MG" + "a" * 32},
        ),
        await client.post(
            CALLS,
            data=CALL
            | {
                "StatusCallback": "https://otp.example.test/cb",
                # Repeated keys: the encoding §3.3 says Prism refuses; openapi-core reads it.
                "StatusCallbackEvent": ["initiated", "completed"],
            },
        ),
        await client.post(f"{VERIFY}/Verifications", data={"To": "+15558675310", "Channel": "sms"}),
    ]
    sms_sid = exchanges[0].json()["sid"]
    exchanges.append(
        await client.get(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sms_sid}.json")
    )
    code = fake.verifications[0].code
    exchanges.append(
        await client.post(f"{VERIFY}/VerificationCheck", data={"To": "+15558675310", "Code": code})
    )
    exchanges.append(
        await client.post(f"{VERIFY}/Verifications/%2B15558675310", data={"Status": "canceled"})
    )

    assert [r.status_code for r in exchanges[:4]] == [201, 201, 201, 201]
    assert [r.status_code for r in exchanges[4:]] == [200, 200, 404]  # approved, so then unknown
    assert fake.spec_errors == []
    for response in exchanges:
        if response.is_success:
            request = response.request
            violations = response_violations(
                request.method,
                request.url.path,
                dict(request.headers),
                request.content,
                response.status_code,
                response.content,
            )
            assert violations == []
    message, via_service, call, verification = (r.json() for r in exchanges[:4])
    assert message["status"] == "queued" and via_service["status"] == "accepted"
    assert message["num_segments"] == "1" and RFC_2822.match(message["date_created"])
    assert call["sid"].startswith("CA") and call["status"] == "queued"
    assert fake.calls[0].callback_events == ["initiated", "completed"]
    assert verification["status"] == "pending" and ISO_8601.match(verification["date_created"])


def test_the_response_check_catches_a_bad_answer() -> None:
    bogus = json.dumps({"sid": "SM" + "a" * 32, "status": "bogus"}).encode()
    violations = response_violations(
        "POST",
        MESSAGES,
        {"content-type": "application/x-www-form-urlencoded", "authorization": "Basic eDp5"},
        b"To=%2B15558675310&From=%2B15017122661&Body=x",
        201,
        bogus,
    )
    assert violations and "bogus" in violations[0]


# -- auth, controls, magic numbers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        ((ACCOUNT_SID, "wrong"), 401),
        ((API_KEY_SID, API_KEY_SECRET), 201),
        ((API_KEY_SID, AUTH_TOKEN), 401),
        ((OTHER_ACCOUNT, OTHER_TOKEN), 401),  # valid credentials, someone else's account path
    ],
)
async def test_basic_auth_is_checked(fake: TwilioFake, auth: tuple[str, str], status: int) -> None:
    async with httpx.AsyncClient(base_url=fake.url, auth=auth, trust_env=False) as other:
        response = await other.post(MESSAGES, data=SMS)
    assert response.status_code == status
    if status == 401:
        twilio_error(response, 401, 20003)
    assert fake.spec_errors == []


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_forced_failures_answer_in_twilios_shape(
    fake: TwilioFake, client: httpx.AsyncClient, status: int
) -> None:
    fake.fail_next(status, headers={"Retry-After": "2"})
    response = await client.post(MESSAGES, data=SMS)
    twilio_error(response, status, 20000 + status)
    assert response.headers["retry-after"] == "2"
    assert (await client.post(MESSAGES, data=SMS)).status_code == 201


@pytest.mark.parametrize(
    ("path", "form", "code"),
    [
        (MESSAGES, SMS | {"To": "+15005550001"}, 21211),
        (MESSAGES, SMS | {"To": "+15005550002"}, 21612),
        (MESSAGES, SMS | {"To": "+15005550003"}, 21408),
        (MESSAGES, SMS | {"To": "+15005550004"}, 21610),
        (MESSAGES, SMS | {"To": "+15005550009"}, 21614),
        (MESSAGES, SMS | {"To": "5558675310"}, 21211),
        (MESSAGES, SMS | {"From": "+15005550001"}, 21212),
        (MESSAGES, {"To": SMS["To"], "Body": "x"}, 21603),
        (MESSAGES, {"To": SMS["To"], "From": SMS["From"]}, 21602),
        (MESSAGES, SMS | {"Body": "x" * 1601}, 21617),
        (MESSAGES, SMS | {"StatusCallback": "not a url"}, 21609),
        (MESSAGES, SMS | {"StatusCallback": "https://bad_host.example/cb"}, 21609),
        (CALLS, CALL | {"StatusCallback": "ftp://otp.example.test/cb"}, 21609),
        (CALLS, CALL | {"To": "+15005550001"}, 21217),
        (CALLS, CALL | {"From": "Acme"}, 21212),
        (CALLS, CALL | {"Twiml": "<Response><Say>unclosed</Response>"}, 12100),
        (CALLS, CALL | {"Twiml": "<Response><Dial>+1555</Dial></Response>"}, 12100),
        (CALLS, CALL | {"Twiml": f"<Response><Say>{'a' * 4000}</Say></Response>"}, 12100),
    ],
)
async def test_refusals_carry_twilios_codes(
    fake: TwilioFake, client: httpx.AsyncClient, path: str, form: dict[str, str], code: int
) -> None:
    twilio_error(await client.post(path, data=form), 400, code)
    assert fake.messages == [] and fake.calls == []
    assert fake.spec_errors == []


async def test_calls_keep_the_spoken_text(fake: TwilioFake, client: httpx.AsyncClient) -> None:
    twiml = (
        '<Response><Say voice="Polly.Joanna" language="en-US">Your code is</Say>'
        '<Pause length="1"/><Say>4, 8, 2 &amp; 9</Say></Response>'
    )
    assert (await client.post(CALLS, data=CALL | {"Twiml": twiml})).status_code == 201
    (call,) = fake.calls
    assert call.spoken == "Your code is 4, 8, 2 & 9" and call.pauses == 1
    assert call.says[0].voice == "Polly.Joanna"


# -- Verify's state machine -----------------------------------------------------------------


async def test_verify_resends_then_refuses_a_sixth_send(
    fake: TwilioFake, client: httpx.AsyncClient
) -> None:
    start = {"To": "+15558675310", "Channel": "sms", "CustomCode": "123456"}
    sids = set()
    for _ in range(5):
        response = await client.post(f"{VERIFY}/Verifications", data=start)
        assert response.status_code == 201
        sids.add(response.json()["sid"])
    assert len(sids) == 1
    assert len(fake.verifications[0].sends) == 5
    twilio_error(await client.post(f"{VERIFY}/Verifications", data=start), 429, 60203)

    # Canceling frees the number: the next start is a new verification.
    await client.post(f"{VERIFY}/Verifications/{sids.pop()}", data={"Status": "canceled"})
    assert (await client.post(f"{VERIFY}/Verifications", data=start)).status_code == 201
    assert len(fake.verifications) == 2
    assert fake.spec_errors == []


async def test_verify_checks_expire_and_run_out(
    fake: TwilioFake, client: httpx.AsyncClient
) -> None:
    start = {"To": "+15558675310", "Channel": "call", "CustomCode": "123456"}
    sid = (await client.post(f"{VERIFY}/Verifications", data=start)).json()["sid"]
    check = {"VerificationSid": sid, "Code": "654321"}
    for _ in range(5):
        response = await client.post(f"{VERIFY}/VerificationCheck", data=check)
        assert response.json()["status"] == "pending" and response.json()["valid"] is False
    twilio_error(await client.post(f"{VERIFY}/VerificationCheck", data=check), 429, 60202)

    fake.advance(601)
    twilio_error(await client.post(f"{VERIFY}/VerificationCheck", data=check), 404, 20404)
    assert fake.verifications[0].status == "expired"
    unknown = {"VerificationSid": "VE" + "0" * 32, "Code": "1234"}
    twilio_error(await client.post(f"{VERIFY}/VerificationCheck", data=unknown), 404, 20404)
    assert fake.spec_errors == []


def test_callback_signature_matches_worked_example_2() -> None:
    signature = twilio_signature("test-auth-token", EXAMPLE_CALLBACK_URL, EXAMPLE_CALLBACK_PARAMS)
    assert signature == EXAMPLE_CALLBACK_SIGNATURE
