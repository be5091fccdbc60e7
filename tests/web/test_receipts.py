"""Delivery receipts end to end: the vendor fakes post their status callbacks to the live
app on PHONEGATE_PUBLIC_URL, and GET /api/v2/phone/messages/{id} shows what they said.

Only a receipt for a message this server sent through that vendor, with the vendor's proof,
is recorded; anything else is a bare 403 and changes nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from phonegate.bootstrap import Credentials
from phonegate.container import Container
from phonegate.settings import Settings
from phonegate.web.app import create_app
from tests.conftest import Api, make_settings
from tests.delivery.conftest import (
    PHONE,
    VONAGE_KEY,
    VONAGE_SECRET,
    add_tenant_provider,
    events,
    last_message,
    message_detail,
    use_guardian_twilio,
    vonage_provider,
)
from tests.fakes.infobip import InfobipFake
from tests.fakes.server import free_port
from tests.fakes.telesign import API_KEY as TELESIGN_KEY
from tests.fakes.telesign import CUSTOMER_ID, TelesignFake
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, twilio_signature
from tests.fakes.vonage import VonageFake

INFOBIP_KEY = "infobip-api-key-0042"
FULL_NUMBER = PHONE.removeprefix("+")


@pytest.fixture
def public_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, public_url: str) -> Settings:
    return make_settings(database_url, tmp_path, public_url=public_url, outbound_allow_private=True)


@pytest.fixture
async def live(container: Container, public_url: str) -> AsyncIterator[str]:
    """The app listening on the public URL, in this test's event loop, so the fakes'
    callbacks reach the same container (and frozen clock) the test drives."""
    config = uvicorn.Config(
        create_app(container, background=False),
        host="127.0.0.1",
        port=urlsplit(public_url).port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the live server did not start"
        await asyncio.sleep(0.01)
    yield public_url
    server.should_exit = True
    await serving


class PublicApi(Api):
    """The test API, with management tokens for the audience the public URL names."""

    def __init__(self, client: httpx.AsyncClient, creds: Credentials, public_url: str) -> None:
        super().__init__(client, creds)
        self.audience = public_url + "/api/v2/"

    async def management_token(self, scope: str | None = None) -> str:
        body = {
            "grant_type": "client_credentials",
            "client_id": self.creds.management_client_id,
            "client_secret": self.creds.management_client_secret,
            "audience": self.audience,
            **({"scope": scope} if scope is not None else {}),
        }
        r = await self.client.post("/oauth/token", json=body)
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token


@pytest.fixture
def api(client: httpx.AsyncClient, creds: Credentials, public_url: str) -> Api:
    return PublicApi(client, creds, public_url)


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def twilio(twilio_server: TwilioFake) -> Iterator[TwilioFake]:
    twilio_server.reset()
    yield twilio_server
    assert twilio_server.spec_errors == []


async def start_enrollment(api: Api, channel: str = "sms") -> dict[str, Any]:
    """A user starts enrolling PHONE; the message goes out at once. Returns it (the API's
    view, attempts included)."""
    await api.create_user()
    r = await api.associate(await api.mfa_token(), PHONE, channel=channel)
    assert r.status_code == 200, r.text
    message = await last_message(api)
    assert message["status"] == "sent", message
    return message


async def twilio_message(api: Api, fake: TwilioFake, live: str) -> dict[str, Any]:
    await api.enable_mfa()
    await use_guardian_twilio(api, fake)
    message = await start_enrollment(api)
    assert fake.messages[-1].status_callback == f"{live}/callbacks/twilio/status"
    return message


def delivery(detail: dict[str, Any]) -> tuple[str | None, str | None]:
    return detail["delivery"]["status"], detail["delivery"]["error_code"]


# -- Twilio -------------------------------------------------------------------------------


async def test_twilio_receipts_are_recorded_and_a_late_one_changes_nothing(
    api: Api, container: Container, twilio: TwilioFake, live: str
) -> None:
    message = await twilio_message(api, twilio, live)
    sid = message["provider_message_id"]
    for status in ["queued", "sent", "delivered"]:
        assert await twilio.send_status_callbacks(sid, [status]) == [204]
        assert delivery(await message_detail(api, message["id"])) == (status, None)
    # Receipts arrive out of order: a "sent" after "delivered" must not undo it.
    assert await twilio.send_status_callbacks(sid, ["sent"]) == [204]
    assert delivery(await message_detail(api, message["id"])) == ("delivered", None)
    assert len(await events(container, "gd_send_sms")) == 1  # delivered logs nothing new
    assert await events(container, "gd_send_sms_failure") == []


async def test_an_undelivered_receipt_is_a_failure_event_with_the_vendor_code(
    api: Api,
    container: Container,
    twilio: TwilioFake,
    live: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="phonegate")
    message = await twilio_message(api, twilio, live)
    sid = message["provider_message_id"]
    answers = await twilio.send_status_callbacks(sid, ["sent", "undelivered"], error_code="30007")
    assert answers == [204, 204]
    assert delivery(await message_detail(api, message["id"])) == ("undelivered", "30007")
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["provider"] == "twilio"
    assert failure.details["message_id"] == message["id"]
    assert failure.details["to"] == "XXXXXXXX0123"
    assert failure.details["provider_error"]["errorCode"] == "30007"
    assert FULL_NUMBER not in json.dumps([failure.description, failure.details])
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("phonegate")]
    assert logged and not any(FULL_NUMBER in line for line in logged)


async def test_a_call_that_was_not_answered_is_a_voice_failure(
    api: Api, container: Container, twilio: TwilioFake, live: str
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    await use_guardian_twilio(api, twilio)
    message = await start_enrollment(api, channel="voice")
    call = twilio.calls[-1]
    assert call.status_callback == f"{live}/callbacks/twilio/status"
    answers = await twilio.send_status_callbacks(call.sid, ["initiated", "ringing", "no-answer"])
    assert answers == [204] * 3
    assert delivery(await message_detail(api, message["id"])) == ("undelivered", None)
    (failure,) = await events(container, "gd_send_voice_failure")
    assert failure.details["message_id"] == message["id"]


def callback_form(sid: str, status: str = "delivered") -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "MessageStatus": status, "To": PHONE}


async def test_forged_twilio_callbacks_are_refused_and_change_nothing(
    api: Api, container: Container, twilio: TwilioFake, live: str
) -> None:
    message = await twilio_message(api, twilio, live)
    url = f"{live}/callbacks/twilio/status"
    form = callback_form(message["provider_message_id"], "undelivered")
    unknown = callback_form("SM" + "0" * 32, "undelivered")
    attempts = [
        (form, twilio_signature("not-the-auth-token", url, form)),
        (form, None),
        (unknown, twilio_signature(AUTH_TOKEN, url, unknown)),
        ({**form, "ErrorCode": "30007"}, twilio_signature(AUTH_TOKEN, url, form)),
    ]
    async with httpx.AsyncClient(trust_env=False) as http:
        for data, signature in attempts:
            headers = {"X-Twilio-Signature": signature} if signature else {}
            r = await http.post(url, data=data, headers=headers)
            assert r.status_code == 403 and r.content == b"", r.text
    assert delivery(await message_detail(api, message["id"])) == (None, None)
    assert await events(container, "gd_send_sms_failure") == []


async def test_the_signature_is_checked_against_the_public_url(
    api: Api, twilio: TwilioFake, live: str
) -> None:
    """Behind a proxy the request's own URL (here http://phonegate.test/…) is not what
    Twilio signed: the URL rebuilt from PHONEGATE_PUBLIC_URL, query included, is."""
    message = await twilio_message(api, twilio, live)
    form = callback_form(message["provider_message_id"], "sent")
    path = "/callbacks/twilio/status?attempt=1"
    for signed_url, expected in [(api.client.base_url.join(path), 403), (live + path, 204)]:
        signature = twilio_signature(AUTH_TOKEN, str(signed_url), form)
        r = await api.client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        assert r.status_code == expected, (signed_url, r.text)
    assert delivery(await message_detail(api, message["id"])) == ("sent", None)


# -- Vonage, Infobip, TeleSign ------------------------------------------------------------


async def test_vonage_dlrs_count_only_with_the_account_api_key(
    api: Api, container: Container, live: str
) -> None:
    with VonageFake(api_key=VONAGE_KEY, api_secret=VONAGE_SECRET) as vonage:
        await api.enable_mfa()
        await add_tenant_provider(api, vonage_provider(vonage))
        message = await start_enrollment(api)
        sent = vonage.sent[-1]
        assert sent["callback"] == f"{live}/callbacks/vonage/status"
        vendor_id = message["provider_message_id"]
        accepted = vonage.dlr(vendor_id, status="accepted")
        failed = vonage.dlr(vendor_id, status="failed", err_code="6")
    url = f"{live}/callbacks/vonage/status"
    async with httpx.AsyncClient(trust_env=False) as http:
        for params in [{**failed, "api-key": "someone-else"}, {**failed, "messageId": "0A1B"}]:
            assert (await http.get(url, params=params)).status_code == 403
        assert delivery(await message_detail(api, message["id"])) == (None, None)
        assert (await http.get(url, params=accepted)).status_code == 204
        assert delivery(await message_detail(api, message["id"])) == ("sent", None)
        assert (await http.post(url, data=failed)).status_code == 204
    assert delivery(await message_detail(api, message["id"])) == ("failed", "6")
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["provider"] == "vonage"
    assert failure.details["provider_error"]["errorCode"] == "6"


async def test_infobip_reports_count_only_for_its_own_messages(
    api: Api, container: Container, live: str
) -> None:
    with InfobipFake(api_key=INFOBIP_KEY) as infobip:
        await api.enable_mfa()
        await add_tenant_provider(
            api,
            {
                "name": "infobip",
                "configuration": {"base_url": infobip.url, "from": "Acme"},
                "credentials": {"api_key": INFOBIP_KEY},
            },
        )
        message = await start_enrollment(api)
        vendor_id = message["provider_message_id"]
        assert infobip.sent[-1]["notifyUrl"] == f"{live}/callbacks/infobip/status"
        report = infobip.report(vendor_id, "UNDELIVERABLE")
    url = f"{live}/callbacks/infobip/status"
    stranger = json.loads(json.dumps(report).replace(vendor_id, "msg_someoneelsesmessage0"))
    async with httpx.AsyncClient(trust_env=False) as http:
        assert (await http.post(url, json=stranger)).status_code == 403
        assert delivery(await message_detail(api, message["id"])) == (None, None)
        assert (await http.post(url, json=report)).status_code == 204
    assert delivery(await message_detail(api, message["id"])) == (
        "undelivered",
        "EC_ABSENT_SUBSCRIBER",
    )
    (failure,) = await events(container, "gd_send_sms_failure")
    assert failure.details["provider_error"]["errorCode"] == "EC_ABSENT_SUBSCRIBER"


def telesign_signature(api_key: str, body: bytes) -> str:
    digest = hmac.new(base64.b64decode(api_key), body, hashlib.sha256).digest()
    return f"TSA {CUSTOMER_ID}:{base64.b64encode(digest).decode()}"


async def test_telesign_callbacks_count_only_when_signed(
    api: Api, container: Container, live: str
) -> None:
    with TelesignFake() as telesign:
        await api.enable_mfa()
        await add_tenant_provider(
            api,
            {
                "name": "telesign",
                "configuration": {"customer_id": CUSTOMER_ID, "base_url": telesign.url},
                "credentials": {"api_key": TELESIGN_KEY},
            },
        )
        message = await start_enrollment(api)
        assert telesign.messages[-1].callback_url == f"{live}/callbacks/telesign/status"
    body = json.dumps(
        {
            "reference_id": message["provider_message_id"],
            "status": {"code": 200, "description": "Delivered to handset"},
        }
    ).encode()
    url = f"{live}/callbacks/telesign/status"
    forged = telesign_signature(base64.b64encode(b"another key").decode(), body)
    async with httpx.AsyncClient(trust_env=False) as http:
        for authorization in [forged, None]:
            headers = {"Content-Type": "application/json"}
            if authorization:
                headers["Authorization"] = authorization
            assert (await http.post(url, content=body, headers=headers)).status_code == 403
        assert delivery(await message_detail(api, message["id"])) == (None, None)
        headers = {
            "Content-Type": "application/json",
            "Authorization": telesign_signature(TELESIGN_KEY, body),
        }
        assert (await http.post(url, content=body, headers=headers)).status_code == 204
    assert delivery(await message_detail(api, message["id"])) == ("delivered", None)
    assert await events(container, "gd_send_sms_failure") == []


# -- garbage ------------------------------------------------------------------------------

GARBAGE: list[dict[str, Any]] = [
    {},
    {"content": b"", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
    {"content": b"[1, 2, 3]", "headers": {"Content-Type": "application/json"}},
    {
        "content": b'{"results": [{"messageId": {"x": 1}}], "reference_id": 7}',
        "headers": {"Content-Type": "application/json"},
    },
    {
        "content": b'{"results": "x", "reference_id": "\\u0000"}',
        "headers": {"Content-Type": "application/json"},
    },
    {
        "content": b"MessageSid=SM%00&MessageStatus=sent",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    {
        "content": b"MessageSid=" + b"A" * 300 + b"&messageId=\xff",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    {"content": b"x" * 70_000, "headers": {"Content-Type": "application/json"}},
    {"content": b"<xml/>", "headers": {"Content-Type": "text/xml"}},
    {"json": {"results": 5}},
    {"json": {"results": [{"messageId": "m", "status": "x", "error": "y"}]}},
    {"json": {"results": [{"messageId": "m", "status": {"groupName": "DELIVERED"}, "error": 1}]}},
    {"json": {"reference_id": "r", "status": "x"}},
    {"content": b"[" * 5000, "headers": {"Content-Type": "application/json"}},
]


async def test_garbage_never_breaks_the_callback_routes(lenient: Api) -> None:
    for vendor in ("twilio", "vonage", "infobip", "telesign"):
        for request in GARBAGE:
            r = await lenient.client.post(f"/callbacks/{vendor}/status", **request)
            assert r.status_code in (400, 403, 413, 415), (vendor, request, r.text)
        for params in [{"messageId": "x\x00"}, {"messageId": "9" * 500, "api-key": "é"}]:
            r = await lenient.client.get(f"/callbacks/{vendor}/status", params=params)
            assert r.status_code in (400, 403, 405), (vendor, params, r.text)
