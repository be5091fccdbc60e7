"""The five scenarios (and the stack probe) as operations for the load client.

Each operation speaks the Auth0 wire exactly as an SDK would, so one and the same operation
loads phonegate and its ceiling. Operation ``i`` acts as user ``i`` of its group: a run uses
each user at most once, so the code the fake provider receives for a phone belongs to the
one challenge in flight for it. Multi-step operations (a login, an enrollment) report the
sum of their requests' latencies; the time a user would spend reading the SMS is left out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.dataset import PASSWORD, SCOPE, Population
from bench.fake_provider import FakeTwilio
from bench.loadclient import Connection, Operation
from bench.seeding import SMS_CONNECTION

GRANT_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
GRANT_OTP = "http://auth0.com/oauth/grant-type/passwordless/otp"


@dataclass(frozen=True, slots=True)
class Issued:
    """A challenge as its answer left it: whose, its oob_code, when it was answered."""

    user: int
    oob_code: str
    answered: float


@dataclass(frozen=True, slots=True)
class Prepared:
    """A challenge with the code the provider received for it."""

    user: int
    oob_code: str
    code: str


async def _challenge(conn: Connection, pop: Population, mfa_token: str) -> tuple[str, float]:
    reply, latency = await conn.post(
        "/mfa/challenge", {**pop.app_auth, "mfa_token": mfa_token, "challenge_type": "oob"}
    )
    oob_code: str = reply.expect(200)["oob_code"]
    return oob_code, latency


async def _oob_grant(
    conn: Connection, pop: Population, mfa_token: str, oob_code: str, code: str
) -> float:
    reply, latency = await conn.post(
        "/oauth/token",
        {
            "grant_type": GRANT_OOB,
            **pop.app_auth,
            "mfa_token": mfa_token,
            "oob_code": oob_code,
            "binding_code": code,
        },
    )
    reply.expect(200)
    return latency


def stack() -> Operation:
    """A request of a challenge's size, answered by whatever listens."""

    async def op(conn: Connection, i: int) -> float:
        reply, latency = await conn.post("/mfa/challenge", {"mfa_token": "x" * 200, "n": i})
        reply.expect(200)
        return latency

    return op


def challenge(pop: Population, issued: list[Issued]) -> Operation:
    """``POST /mfa/challenge`` for enrolled user ``i``; remembers the oob_code."""

    async def op(conn: Connection, i: int) -> float:
        oob_code, latency = await _challenge(conn, pop, pop.mfa_tokens[i])
        issued.append(Issued(i, oob_code, time.perf_counter()))
        return latency

    return op


async def collect_codes(
    fake: FakeTwilio, pop: Population, issued: list[Issued], within: float
) -> tuple[list[Prepared], list[float]]:
    """The code each challenge sent, and each one's delivery delay (answer to provider);
    a challenge whose code does not arrive within ``within`` seconds is left out."""

    async def one(item: Issued) -> tuple[Prepared, float] | None:
        try:
            code, arrived = await fake.next_code(pop.enrolled.phone(item.user), within)
        except TimeoutError:
            return None
        return Prepared(item.user, item.oob_code, code), arrived - item.answered

    found = [r for r in await asyncio.gather(*(one(i) for i in issued)) if r is not None]
    return [p for p, _ in found], [delay for _, delay in found]


def verify(pop: Population, prepared: list[Prepared]) -> Operation:
    """The mfa-oob grant with the right code, for challenge ``i`` of a challenge run."""

    async def op(conn: Connection, i: int) -> float:
        item = prepared[i]
        return await _oob_grant(conn, pop, pop.mfa_tokens[item.user], item.oob_code, item.code)

    return op


def login(pop: Population, fake: FakeTwilio) -> Operation:
    """Password grant → mfa_required → challenge → the code from the provider → mfa-oob."""

    async def op(conn: Connection, i: int) -> float:
        reply, first = await conn.post(
            "/oauth/token",
            {
                "grant_type": "password",
                "username": pop.enrolled.email(i),
                "password": PASSWORD,
                "scope": SCOPE,
                **pop.app_auth,
            },
        )
        mfa_token: str = reply.expect(403)["mfa_token"]
        oob_code, second = await _challenge(conn, pop, mfa_token)
        code, _ = await fake.next_code(pop.enrolled.phone(i))
        return first + second + await _oob_grant(conn, pop, mfa_token, oob_code, code)

    return op


def passwordless(pop: Population, fake: FakeTwilio) -> Operation:
    """``/passwordless/start`` for phone ``i``, then the passwordless/otp grant."""

    async def op(conn: Connection, i: int) -> float:
        phone = pop.sms.phone(i)
        reply, first = await conn.post(
            "/passwordless/start",
            {**pop.app_auth, "connection": SMS_CONNECTION, "phone_number": phone, "send": "code"},
        )
        reply.expect(200)
        code, _ = await fake.next_code(phone)
        reply, second = await conn.post(
            "/oauth/token",
            {
                "grant_type": GRANT_OTP,
                **pop.app_auth,
                "username": phone,
                "otp": code,
                "realm": SMS_CONNECTION,
                "scope": SCOPE,
            },
        )
        reply.expect(200)
        return first + second

    return op


def enrollment(pop: Population, fake: FakeTwilio) -> Operation:
    """``/mfa/associate`` with an mfa_token for a user without a phone, then the confirming
    mfa-oob grant."""

    async def op(conn: Connection, i: int) -> float:
        mfa_token, phone = pop.enrollee_tokens[i], pop.enrollees.phone(i)
        reply, first = await conn.post(
            "/mfa/associate",
            {
                **pop.app_auth,
                "authenticator_types": ["oob"],
                "oob_channels": ["sms"],
                "phone_number": phone,
            },
            headers={"Authorization": f"Bearer {mfa_token}"},
        )
        oob_code: str = reply.expect(200)["oob_code"]
        code, _ = await fake.next_code(phone)
        return first + await _oob_grant(conn, pop, mfa_token, oob_code, code)

    return op
