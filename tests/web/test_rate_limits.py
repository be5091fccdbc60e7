"""The abuse limits through the HTTP API (domain/ratelimits.py): per user, voice, wrong codes,
per IP, per destination number and calling code, destination countries, the tenant's daily
budget, and the phone-limits Management API.

Every test runs on SQLite and PostgreSQL, each with the database's counters and with Redis
counters (``redis_url`` set, as with several processes).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.models import LogEvent
from phonegate.domain.ratelimits import (
    DEFAULTS,
    TOO_MANY_FAILED,
    TOO_MANY_FROM_IP,
    TOO_MANY_SMS,
)
from phonegate.settings import Settings
from phonegate.web.app import create_app
from tests.conftest import BASE_URL, REDIS_URL, Api, make_settings, need

PHONE = "+14155550123"
OTHER_IP = "198.51.100.9"
TO_NUMBER = "Too many messages to this phone number. Wait for some minutes before retrying."
TO_PREFIX = "Too many messages to this country calling code. Wait for some minutes before retrying."
BUDGET_SPENT = "The tenant's daily message budget is spent. Try again tomorrow."
TOO_MANY_CALLS = "Too many voice calls to the user. Wait an hour before retrying."


# Redis counters are for several processes, which means PostgreSQL.
pytestmark = pytest.mark.parametrize(
    ("database_url", "counters"),
    [("sqlite", "sql"), ("postgres", "sql"), ("postgres", "redis")],
    ids=["sqlite", "postgres", "postgres+redis"],
    indirect=True,
)


@pytest.fixture
def counters(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def settings(database_url: str, tmp_path: Path, counters: str) -> Settings:
    if counters == "redis":
        return make_settings(
            database_url, tmp_path, redis_url=need(REDIS_URL, "PHONEGATE_TEST_REDIS_URL")
        )
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def container(container: Container) -> AsyncIterator[Container]:
    """The app's container; afterwards, the tenant's Redis keys are dropped."""
    yield container
    if container.settings.redis_url:
        import redis.asyncio as redis

        async with container.unit_of_work() as uow:
            tenant = await uow.tenants.get_by_name("default")
        assert tenant is not None
        async with redis.from_url(container.settings.redis_url) as client:
            async for key in client.scan_iter(match=f"phonegate:*:{tenant.id}:*"):
                await client.delete(key)


@dataclass
class Probe:
    """What the server recorded, read beside the API: events and queued messages."""

    container: Container
    tenant_id: str

    async def events(self, type_: str) -> list[LogEvent]:
        async with self.container.unit_of_work() as uow:
            return await uow.events.list(self.tenant_id, limit=1000, type_=type_)

    async def queued(self, recipient: str) -> int:
        async with self.container.unit_of_work() as uow:
            rows = await uow.outbox.list_for_tenant(self.tenant_id, 1000, recipient)
        return len(rows)


@pytest.fixture
async def probe(container: Container, creds: Credentials) -> Probe:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.get_by_name("default")
    assert tenant is not None
    return Probe(container, tenant.id)


@pytest.fixture
async def elsewhere(container: Container, creds: Credentials) -> AsyncIterator[Api]:
    """The same tenant, reached from another client IP."""
    transport = httpx.ASGITransport(
        app=create_app(container, background=False), client=(OTHER_IP, 4242)
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield Api(c, creds)


async def patch_limits(api: Api, **limits: Any) -> httpx.Response:
    return await api.mgmt("PATCH", "/attack-protection/phone-limits", json=limits)


async def set_limits(api: Api, **limits: Any) -> None:
    r = await patch_limits(api, **limits)
    assert r.status_code == 200, r.text


async def new_users(api: Api, count: int, start: int = 0) -> list[str]:
    """``count`` users who need MFA; returns their mfa_tokens."""

    async def one(n: int) -> str:
        email = f"user{n}@example.com"
        await api.create_user(email)
        return await api.mfa_token(email)

    return list(await asyncio.gather(*(one(n) for n in range(start, start + count))))


def assert_refused(r: httpx.Response, description: str, now: FrozenClock, wait: int) -> None:
    assert r.status_code == 429, r.text
    assert r.json() == {"error": "too_many_attempts", "error_description": description}
    assert r.headers["retry-after"] == str(wait)
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert r.headers["x-ratelimit-reset"] == str(int(now.now().timestamp()) + wait)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_a_user_gets_ten_messages_an_hour(api: Api, clock: FrozenClock, probe: Probe) -> None:
    await api.enable_mfa()
    user_id = (await api.enrolled_user())["user_id"]  # message 1: the enrollment
    token = await api.mfa_token()
    for _ in range(9):
        assert (await api.challenge(token)).status_code == 200

    r = await api.challenge(token)

    assert_refused(r, TOO_MANY_SMS, clock, 3600)
    assert r.headers["x-ratelimit-limit"] == "10"
    assert await probe.queued(PHONE) == 10
    [failure] = await probe.events("gd_send_sms_failure")
    assert failure.user_id == user_id
    assert failure.details["failure_details"] == {
        "errorCode": "too_many_sms",
        "message": TOO_MANY_SMS,
    }
    [limit] = await probe.events("limit_phone")
    assert limit.user_id == user_id and limit.ip == "203.0.113.7"
    assert limit.details == {"type": "user_send", "delivery_method": "sms"}

    clock.advance(3599)
    token = await api.mfa_token()
    assert_refused(await api.challenge(token), TOO_MANY_SMS, clock, 1)
    clock.advance(1)
    assert (await api.challenge(token)).status_code == 200
    assert (await api.challenge(token)).status_code == 429
    assert await probe.queued(PHONE) == 11


async def test_a_refused_send_takes_nothing_from_the_other_limits(api: Api, elsewhere: Api) -> None:
    await api.enable_mfa()
    await set_limits(api, ip_sends_per_minute=12, tenant_daily_budget=12)
    await api.enrolled_user()
    token = await api.mfa_token()
    for _ in range(9):
        assert (await api.challenge(token)).status_code == 200
    for _ in range(3):  # refused by the user's limit, after the IP and before the budget
        assert (await api.challenge(token)).status_code == 429

    # Exactly two tokens are left in the IP bucket and in the tenant's budget.
    [bob] = await new_users(api, 1)
    assert (await api.associate(bob, "+14155550124")).status_code == 200
    assert (await api.associate(bob, "+14155550124")).status_code == 200
    r = await api.associate(bob, "+14155550124")
    assert r.status_code == 429 and r.json()["error_description"] == TOO_MANY_FROM_IP
    r = await elsewhere.associate(bob, "+14155550124")
    assert r.status_code == 429 and r.json()["error_description"] == BUDGET_SPENT


async def test_voice_once_drained_one_call_an_hour(
    api: Api, clock: FrozenClock, probe: Probe
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    await api.enrolled_user()
    token = await api.mfa_token()
    for _ in range(8):
        assert (await api.challenge(token, oob_channel="sms")).status_code == 200

    # The tenth message drains the bucket: as a call it is this hour's one call.
    assert (await api.challenge(token, oob_channel="voice")).status_code == 200
    assert (await api.challenge(token, oob_channel="voice")).status_code == 429
    for _ in range(2):
        clock.advance(3600)
        token = await api.mfa_token()
        assert (await api.challenge(token, oob_channel="voice")).status_code == 200
        assert (await api.challenge(token, oob_channel="voice")).status_code == 429
    assert [m["channel"] for m in await api.inbox()].count("voice") == 3
    assert len(await probe.events("gd_send_voice_failure")) == 3


async def test_no_call_once_drained_when_the_voice_limit_is_zero(
    api: Api, clock: FrozenClock, probe: Probe
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    await set_limits(api, user_voice_per_hour_when_drained=0)
    await api.enrolled_user()
    token = await api.mfa_token()
    assert (await api.challenge(token, oob_channel="voice")).status_code == 200  # not drained
    for _ in range(8):
        assert (await api.challenge(token, oob_channel="sms")).status_code == 200

    clock.advance(3600)
    token = await api.mfa_token()
    assert_refused(await api.challenge(token, oob_channel="voice"), TOO_MANY_CALLS, clock, 3600)
    [limit] = await probe.events("limit_phone")
    assert limit.details == {"type": "user_voice", "delivery_method": "voice"}
    # The refused call gave the user's token back: the hour's message can still go as SMS.
    assert (await api.challenge(token, oob_channel="sms")).status_code == 200
    clock.advance(2 * 3600)  # two tokens: a call no longer drains the bucket
    token = await api.mfa_token()
    assert (await api.challenge(token, oob_channel="voice")).status_code == 200


async def test_ten_wrong_codes_then_even_the_right_code_waits(
    api: Api, clock: FrozenClock, probe: Probe
) -> None:
    await api.enable_mfa()
    await api.enrolled_user()  # a right code: it spends nothing from the wrong-code budget
    token = await api.mfa_token()
    for _ in range(2):  # five attempts per challenge, ten across the user's challenges
        oob_code = (await api.challenge(token)).json()["oob_code"]
        code = await api.last_code()
        for _ in range(5):
            r = await api.oob_grant(token, oob_code, wrong(code))
            assert r.status_code == 403 and r.json()["error"] == "invalid_grant", r.text

    oob_code = (await api.challenge(token)).json()["oob_code"]
    r = await api.oob_grant(token, oob_code, await api.last_code())

    assert_refused(r, TOO_MANY_FAILED, clock, 360)
    assert r.headers["x-ratelimit-limit"] == "10"
    [event] = await probe.events("gd_otp_rate_limit_exceed")
    assert event.description == TOO_MANY_FAILED

    # One failure comes back every six minutes; the challenge above expires in five.
    clock.advance(300)
    oob_code = (await api.challenge(token)).json()["oob_code"]
    code = await api.last_code()
    assert_refused(await api.oob_grant(token, oob_code, code), TOO_MANY_FAILED, clock, 60)
    clock.advance(60)
    assert (await api.oob_grant(token, oob_code, code)).status_code == 200
    assert len(await probe.events("gd_otp_rate_limit_exceed")) == 2


async def test_an_ip_is_blocked_after_fifty_sends_a_minute(
    api: Api, elsewhere: Api, clock: FrozenClock, probe: Probe
) -> None:
    await api.enable_mfa()
    tokens = await new_users(api, 6)
    for user, token in enumerate(tokens[:5]):  # 5 users x 10 sends, each user's own number
        for _ in range(10):
            r = await api.associate(token, f"+1415555{user:04d}")
            assert r.status_code == 200, r.text
    late = tokens[5]

    assert_refused(await api.associate(late, "+14155550099"), TOO_MANY_FROM_IP, clock, 900)
    [event] = await probe.events("limit_mu")
    assert event.ip == "203.0.113.7" and event.details["type"] == "ip"

    clock.advance(60)  # the minute's bucket is full again, but the block holds
    r = await api.associate(late, "+14155550099")
    assert_refused(r, TOO_MANY_FROM_IP, clock, 840)
    assert r.headers["x-ratelimit-limit"] == "50"
    assert (await elsewhere.associate(late, "+14155550099")).status_code == 200

    clock.advance(839)
    [late] = await new_users(api, 1, start=6)  # another user, the same blocked IP
    assert (await api.associate(late, "+14155550098")).status_code == 429
    clock.advance(1)
    assert (await api.associate(late, "+14155550098")).status_code == 200


async def test_one_number_across_users(api: Api, probe: Probe) -> None:
    await api.enable_mfa()
    await set_limits(api, number_messages_per_hour=3)
    tokens = await new_users(api, 4)
    for token in tokens[:3]:
        assert (await api.associate(token, PHONE)).status_code == 200

    r = await api.associate(tokens[3], PHONE)

    assert r.status_code == 429 and r.json()["error_description"] == TO_NUMBER
    [limit] = await probe.events("limit_phone")
    assert limit.details == {"type": "destination", "delivery_method": "sms"}
    [failure] = await probe.events("gd_send_sms_failure")
    assert failure.details["failure_details"]["errorCode"] == "too_many_sms_to_number"
    assert await probe.queued(PHONE) == 3
    assert (await api.associate(tokens[3], "+14155550124")).status_code == 200


async def test_pumping_one_prefix_across_fifty_users_stops_at_the_prefix_limit(
    api: Api, probe: Probe
) -> None:
    await api.enable_mfa()
    await set_limits(api, prefix_messages_per_hour=40, ip_sends_per_minute=1000)
    tokens = await new_users(api, 50)

    statuses = [
        (await api.associate(token, f"+3712{n:07d}")).status_code
        for n, token in enumerate(tokens, start=1000)
    ]

    assert statuses == [200] * 40 + [429] * 10
    limits = await probe.events("limit_phone")
    assert len(limits) == 10 and all(e.details["type"] == "prefix" for e in limits)
    failures = await probe.events("gd_send_sms_failure")
    assert len(failures) == 10
    assert all(e.details["failure_details"]["message"] == TO_PREFIX for e in failures)
    assert len(await api.inbox()) == 40
    # Other calling codes still go, for the same users.
    assert (await api.associate(tokens[-1], PHONE)).status_code == 200


async def test_a_denied_country_is_refused_before_any_provider_is_called(
    api: Api, probe: Probe
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    await set_limits(api, countries={"sms": {"deny": ["gb"]}, "voice": {"allow": ["US"]}})
    [token] = await new_users(api, 1)

    r = await api.associate(token, "+442071838750")

    assert r.status_code == 400, r.text
    assert r.json() == {
        "error": "invalid_request",
        "error_description": "The code cannot be sent: sms messages to GB are not allowed.",
    }
    [failure] = await probe.events("gd_send_sms_failure")
    assert failure.details["failure_details"]["errorCode"] == "destination_not_allowed"
    assert await api.inbox() == [] and await probe.queued("+442071838750") == 0

    r = await api.associate(token, "+442071838750", channel="voice")
    assert r.json()["error_description"] == (
        "The code cannot be sent: voice messages to GB are not allowed."
    )
    assert len(await probe.events("gd_send_voice_failure")) == 1
    assert await api.inbox() == []
    # Each channel keeps its own rule.
    assert (await api.associate(token, PHONE, channel="voice")).status_code == 200
    assert (await api.associate(token, "+37120001000")).status_code == 200
    r = await patch_limits(api, countries={"sms": {"allow": ["LV"]}})
    assert r.json()["countries"]["sms"] == {"allow": ["LV"], "deny": []}
    assert (await api.associate(token, PHONE)).status_code == 400
    assert (await api.associate(token, "+442071838750")).status_code == 400
    assert [m["recipient"] for m in await api.inbox()] == ["+37120001000", PHONE]


@pytest.mark.parametrize("number", ["+449098790000", "+19002345678"])
async def test_premium_rate_numbers_are_refused(api: Api, probe: Probe, number: str) -> None:
    await api.enable_mfa()
    [token] = await new_users(api, 1)

    r = await api.associate(token, number)

    assert r.status_code == 400
    assert r.json()["error_description"] == (
        "The code cannot be sent: premium-rate numbers are not accepted."
    )
    assert len(await probe.events("gd_send_sms_failure")) == 1
    assert await api.inbox() == []
    await set_limits(api, refuse_premium_numbers=False)
    assert (await api.associate(token, number)).status_code == 200


async def test_the_tenant_daily_budget_warns_once_then_stops_until_tomorrow(
    api: Api, clock: FrozenClock, probe: Probe
) -> None:
    await api.enable_mfa()
    await set_limits(api, tenant_daily_budget=5, tenant_budget_warning_percent=60)
    await api.enrolled_user()
    token = await api.mfa_token()
    assert await probe.events("pg_budget_warning") == []
    assert (await api.challenge(token)).status_code == 200
    assert await probe.events("pg_budget_warning") == []
    assert (await api.challenge(token)).status_code == 200  # the third of five: 60% spent
    [warning] = await probe.events("pg_budget_warning")
    assert warning.details == {"budget": 5, "remaining": 2}
    for _ in range(2):
        assert (await api.challenge(token)).status_code == 200

    r = await api.challenge(token)

    now = clock.now()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until_tomorrow = math.ceil((midnight - now).total_seconds())
    assert_refused(r, BUDGET_SPENT, clock, until_tomorrow)
    assert r.headers["x-ratelimit-limit"] == "5"
    assert len(await probe.events("pg_budget_exceeded")) == 1
    assert len(await probe.events("pg_budget_warning")) == 1

    clock.advance(until_tomorrow - 1)
    token = await api.mfa_token()
    assert (await api.challenge(token)).status_code == 429
    clock.advance(1)
    assert (await api.challenge(token)).status_code == 200
    assert len(await probe.events("pg_budget_warning")) == 1
    assert await probe.queued(PHONE) == 6


async def test_raising_a_spent_budget_lets_messages_go_at_once(api: Api, probe: Probe) -> None:
    await api.enable_mfa()
    await set_limits(api, tenant_daily_budget=2)
    await api.enrolled_user()
    token = await api.mfa_token()
    assert (await api.challenge(token)).status_code == 200
    assert (await api.challenge(token)).status_code == 429  # enrollment + 1: spent
    await set_limits(api, tenant_daily_budget=3)  # the operator raises it: one more today
    assert (await api.challenge(token)).status_code == 200
    assert (await api.challenge(token)).status_code == 429
    assert await probe.queued(PHONE) == 3


async def test_the_phone_limits_api_shows_and_validates(api: Api, probe: Probe) -> None:
    r = await api.mgmt("GET", "/attack-protection/phone-limits")
    assert r.status_code == 200 and r.json() == DEFAULTS
    assert r.json()["user_messages_per_hour"] == 10 and r.json()["wrong_codes"] == 10
    assert r.json()["ip_sends_per_minute"] == 50

    r = await patch_limits(api, prefix_messages_per_hour=40)
    assert r.status_code == 200 and r.json() == {**DEFAULTS, "prefix_messages_per_hour": 40}
    assert len(await probe.events("sapi")) == 1

    refused = {
        "unknown field(s): bogus.": {"bogus": 1},
        "'user_messages_per_hour' must be an integer from 1 to 1000.": {
            "user_messages_per_hour": 0
        },
        "'ip_block_seconds' must be an integer from 0 to 86400.": {"ip_block_seconds": 86401},
        "'wrong_codes' must be an integer from 1 to 1000.": {"wrong_codes": True},
        "'tenant_daily_budget' must be an integer from 1 to 100000000.": {
            "tenant_daily_budget": "100"
        },
        "'refuse_premium_numbers' must be a boolean.": {"refuse_premium_numbers": "no"},
        "countries.sms.deny holds unknown country codes: GBR.": {
            "countries": {"sms": {"deny": ["GBR"]}}
        },
        # A code no number has would make an allow list block everything, silently.
        "countries.sms.allow holds unknown country codes: ZZ.": {
            "countries": {"sms": {"allow": ["ZZ"]}}
        },
        "countries.voice.allow must be a list of ISO 3166-1 alpha-2 codes.": {
            "countries": {"voice": {"allow": "US"}}
        },
        'countries must be {"sms": {...}, "voice": {...}}.': {"countries": {"email": {}}},
    }
    for message, body in refused.items():
        r = await patch_limits(api, **body)
        assert r.status_code == 400, body
        assert r.json() == {
            "statusCode": 400,
            "error": "Bad Request",
            "message": f"Payload validation error: {message}",
            "errorCode": "invalid_body",
        }
    r = await patch_limits(api, countries={"sms": {"allow": ["US"], "deny": ["GB"]}})
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_body"
    assert r.json()["message"] == "countries.sms: use an allow list or a deny list, not both."

    r = await api.mgmt("GET", "/attack-protection/phone-limits")
    assert r.json() == {**DEFAULTS, "prefix_messages_per_hour": 40}


async def test_the_phone_limits_api_needs_its_scopes(api: Api) -> None:
    path = "/api/v2/attack-protection/phone-limits"
    for scope, can_read in (("read:users", False), ("read:attack_protection", True)):
        headers = {"authorization": f"Bearer {await api.management_token(scope)}"}
        r = await api.client.get(path, headers=headers)
        assert r.status_code == (200 if can_read else 403), r.text
        r = await api.client.patch(path, headers=headers, json={"wrong_codes": 5})
        assert r.status_code == 403 and r.json()["errorCode"] == "insufficient_scope"
    token = await api.management_token("update:attack_protection")
    r = await api.client.patch(
        path, headers={"authorization": f"Bearer {token}"}, json={"wrong_codes": 5}
    )
    assert r.status_code == 200 and r.json()["wrong_codes"] == 5


async def test_hundred_simultaneous_challenges_let_exactly_ten_messages_out(
    api: Api, probe: Probe
) -> None:
    await api.enable_mfa()
    await set_limits(api, ip_sends_per_minute=1000, number_messages_per_hour=1000)
    await api.enrolled_user()
    token = await api.mfa_token()

    results = await asyncio.gather(*(api.challenge(token) for _ in range(100)))

    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 9 and statuses.count(429) == 91, statuses
    assert all(
        r.json()["error_description"] == TOO_MANY_SMS for r in results if r.status_code == 429
    )
    assert await probe.queued(PHONE) == 10  # the enrollment and nine challenges
