"""What the delivery tests share: vendor fakes on 127.0.0.1, the Management API calls that
put them in a tenant's delivery chain, and the MFA flows driven with codes read from them.

tests/web/test_receipts.py imports the plain helpers from here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from phonegate.bootstrap import Credentials
from phonegate.container import Container
from phonegate.domain import enrollments
from phonegate.domain.models import LogEvent, OutboxMessage, RequestContext
from phonegate.settings import Settings
from tests.conftest import Api, make_settings
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.fakes.vonage import VonageFake

PHONE = "+14155550123"
SENDER = "+15017122661"
VONAGE_KEY = "a1b2c3d4"
VONAGE_SECRET = "vonage-api-secret-5e1f"
PASSWORD = "correct horse 1"

CodeReader = Callable[[], str]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The fakes listen on 127.0.0.1, which the outbound guard refuses unless allowed.
    return make_settings(database_url, tmp_path, outbound_allow_private=True)


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def twilio(twilio_server: TwilioFake) -> Iterator[TwilioFake]:
    twilio_server.reset()
    yield twilio_server
    assert twilio_server.spec_errors == []


@pytest.fixture(scope="module")
def vonage_server() -> Iterator[VonageFake]:
    with VonageFake(api_key=VONAGE_KEY, api_secret=VONAGE_SECRET) as fake:
        yield fake


@pytest.fixture
def vonage(vonage_server: VonageFake) -> VonageFake:
    vonage_server.reset()
    return vonage_server


# -- the delivery chain, through the Management API ---------------------------------------


async def use_guardian_twilio(api: Api, fake: TwilioFake, **fields: str) -> None:
    """Twilio, pointed at ``fake``, as the Guardian factor's selected provider."""
    body = {"sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": SENDER, "base_url": fake.url}
    r = await api.mgmt("PUT", "/guardian/factors/phone/providers/twilio", json={**body, **fields})
    assert r.status_code == 200, r.text
    r = await api.mgmt(
        "PUT", "/guardian/factors/phone/selected-provider", json={"provider": "twilio"}
    )
    assert r.status_code == 200, r.text


def vonage_provider(fake: VonageFake) -> dict[str, Any]:
    """The create body of a Vonage provider (tenant phone provider or fallback)."""
    return {
        "name": "vonage",
        "configuration": {"api_key": VONAGE_KEY, "from": "Acme", "base_url": fake.url},
        "credentials": {"api_secret": VONAGE_SECRET},
    }


async def add_vonage_fallback(api: Api, fake: VonageFake) -> str:
    r = await api.mgmt("POST", "/phone/providers", json=vonage_provider(fake))
    assert r.status_code == 201, r.text
    provider_id: str = r.json()["id"]
    return provider_id


async def add_tenant_provider(api: Api, body: dict[str, Any]) -> str:
    """A tenant phone provider (Branding), which then serves every phone message."""
    r = await api.mgmt("POST", "/branding/phone/providers", json=body)
    assert r.status_code == 201, r.text
    provider_id: str = r.json()["id"]
    return provider_id


# -- reading what was sent ------------------------------------------------------------------


def code_in(text: str) -> str:
    found = re.search(r"\b\d{6}\b", text)
    assert found, "no code in the message"
    return found.group(0)


def from_twilio(fake: TwilioFake) -> CodeReader:
    return lambda: code_in(fake.messages[-1].body)


def from_vonage(fake: VonageFake) -> CodeReader:
    return lambda: code_in(fake.sent[-1]["text"])


async def events(container: Container, type_: str) -> list[LogEvent]:
    """The default tenant's events of one type, oldest first."""
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        return list(reversed(await uow.events.list(tenant.id, limit=1000, type_=type_)))


async def outbox(container: Container) -> list[OutboxMessage]:
    """The default tenant's outbox, oldest first."""
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        return list(reversed(await uow.outbox.list_for_tenant(tenant.id, limit=200)))


async def message_detail(api: Api, message_id: str) -> dict[str, Any]:
    """GET /phone/messages/{id}, with the attempts in chain order: under the frozen clock a
    pass's attempts share one start time, and the API breaks that tie by attempt id."""
    r = await api.mgmt("GET", f"/phone/messages/{message_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    body["attempts"].sort(key=lambda a: (a["started_at"], a["position"]))
    return body


async def last_message(api: Api) -> dict[str, Any]:
    r = await api.mgmt("GET", "/phone/messages", params={"limit": "1"})
    assert r.status_code == 200, r.text
    (newest,) = r.json()
    return await message_detail(api, newest["id"])


# -- the flows ------------------------------------------------------------------------------


async def enroll(
    api: Api, read_code: CodeReader, email: str = "alice@example.com", phone: str = PHONE
) -> None:
    """A new user who enrolls ``phone`` and confirms it with the code ``read_code`` finds."""
    await api.create_user(email, PASSWORD)
    token = await api.mfa_token(email, PASSWORD)
    r = await api.associate(token, phone)
    assert r.status_code == 200, r.text
    r = await api.oob_grant(token, r.json()["oob_code"], read_code())
    assert r.status_code == 200, r.text


async def challenge(api: Api, email: str = "alice@example.com") -> tuple[str, str]:
    """Log in again and ask for a code: (mfa_token, oob_code)."""
    token = await api.mfa_token(email, PASSWORD)
    r = await api.challenge(token)
    assert r.status_code == 200, r.text
    oob_code: str = r.json()["oob_code"]
    return token, oob_code


async def enqueue_enrollment(container: Container, creds: Credentials, phone: str) -> str:
    """Start an enrollment of the demo user in the domain, as a request would, without
    kicking the dispatcher: the message waits in the outbox. Returns its id."""
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        app = await uow.applications.get(tenant.id, creds.client_id)
        user = await uow.users.get(tenant.id, creds.user_id)
        assert app is not None and user is not None
        await enrollments.associate(
            uow,
            container.deps,
            tenant,
            app,
            user,
            {"authenticator_types": ["oob"], "oob_channels": ["sms"], "phone_number": phone},
            RequestContext(ip="203.0.113.9", user_agent="pytest"),
            additional_allowed=False,
        )
    newest = (await outbox(container))[-1]
    assert newest.status == "pending" and newest.recipient == phone
    return newest.id
