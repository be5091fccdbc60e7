"""The per-user limit across two server processes on one PostgreSQL database: 100
simultaneous challenges, alternating between the processes, let exactly 10 messages out —
with the counters in Redis, and with the counters in PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from phonegate.bootstrap import Credentials, bootstrap
from phonegate.container import Container
from phonegate.domain.ratelimits import TOO_MANY_SMS
from phonegate.settings import Settings
from tests.conftest import REDIS_URL, make_settings, need, truncate_all
from tests.e2e.conftest import _free_port

REALM = "Username-Password-Authentication"
PHONE = "+14155550188"
PUBLIC_URL = "https://auth.example.test"


@dataclass
class Cluster:
    urls: list[str]
    creds: Credentials
    settings: Settings  # the database's, without Redis: for reading the outbox
    tenant_id: str


async def _boot(settings: Settings) -> tuple[Credentials, str]:
    async with Container(settings) as c:
        creds = await bootstrap(c)
        async with c.unit_of_work() as uow:
            tenant = await uow.tenants.get_by_name("default")
    assert tenant is not None
    return creds, tenant.id


async def _forget_redis_keys(url: str, tenant_id: str) -> None:
    import redis.asyncio as redis

    async with redis.from_url(url) as client:
        async for key in client.scan_iter(match=f"phonegate:*:{tenant_id}:*"):
            await client.delete(key)


def _wait_until_up(urls: list[str], procs: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 30
    for url, proc, log in zip(urls, procs, logs, strict=True):
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()}")
            time.sleep(0.1)


@pytest.fixture(params=["shared-redis", "shared-postgres"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    url: str = request.getfixturevalue("postgres_migrated")
    asyncio.run(truncate_all(url))
    redis_url = need(REDIS_URL, "PHONEGATE_TEST_REDIS_URL") if "redis" in request.param else ""
    settings = make_settings(url, tmp_path)
    creds, tenant_id = asyncio.run(_boot(settings))
    env = {
        **os.environ,
        "PHONEGATE_ENV": "test",
        "PHONEGATE_DATABASE_URL": url,
        "PHONEGATE_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "PHONEGATE_DATA_DIR": str(tmp_path),
        "PHONEGATE_DISPATCH_INTERVAL_SECONDS": "0.2",
        "PHONEGATE_LOG_LEVEL": "warning",
        "PHONEGATE_PUBLIC_URL": PUBLIC_URL,  # one public URL behind one load balancer
    }
    if redis_url:
        env["PHONEGATE_REDIS_URL"] = redis_url
    ports = [_free_port(), _free_port()]
    # Server output goes to files: an unread pipe that fills up would stall the server.
    logs = [tmp_path / f"server-{port}.log" for port in ports]
    procs = []
    for port, log in zip(ports, logs, strict=True):
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "phonegate.cli", "serve", "--port", str(port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        _wait_until_up(urls, procs, logs)
        yield Cluster(urls, creds, settings, tenant_id)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        if redis_url:
            asyncio.run(_forget_redis_keys(redis_url, tenant_id))


async def _queued(cluster: Cluster, recipient: str) -> int:
    async with Container(cluster.settings) as c, c.unit_of_work() as uow:
        return len(await uow.outbox.list_for_tenant(cluster.tenant_id, 1000, recipient))


async def test_hundred_challenges_across_two_processes_let_ten_messages_out(
    cluster: Cluster,
) -> None:
    first, second = cluster.urls
    app = {"client_id": cluster.creds.client_id, "client_secret": cluster.creds.client_secret}
    # Connections idle for less than uvicorn's keep-alive (5 s) only: reusing one the
    # server is closing at that moment fails with "Server disconnected".
    limits = httpx.Limits(keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        r = await http.post(
            first + "/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": cluster.creds.management_client_id,
                "client_secret": cluster.creds.management_client_secret,
                "audience": PUBLIC_URL + "/api/v2/",
            },
        )
        mgmt = {"authorization": f"Bearer {r.json()['access_token']}"}
        # Only the user's limit may apply: every request comes from one IP to one number.
        r = await http.patch(
            second + "/api/v2/attack-protection/phone-limits",
            headers=mgmt,
            json={"ip_sends_per_minute": 1000, "number_messages_per_hour": 1000},
        )
        assert r.status_code == 200, r.text
        await http.put(first + "/api/v2/guardian/factors/sms", headers=mgmt, json={"enabled": True})
        await http.put(first + "/api/v2/guardian/policies", headers=mgmt, json=["all-applications"])
        r = await http.post(
            second + "/api/v2/users",
            headers=mgmt,
            json={"connection": REALM, "email": "limits@example.com", "password": "two procs 1"},
        )
        assert r.status_code == 201, r.text

        async def mfa_token() -> str:
            r = await http.post(
                first + "/oauth/token",
                json={
                    "grant_type": "password",
                    "username": "limits@example.com",
                    "password": "two procs 1",
                    **app,
                },
            )
            assert r.status_code == 403, r.text
            token: str = r.json()["mfa_token"]
            return token

        async def delivered_code() -> str:
            for _ in range(200):
                r = await http.get(second + "/api/v2/sandbox/messages", headers=mgmt)
                if r.json():
                    code: str = r.json()[0]["code"]
                    return code
                await asyncio.sleep(0.05)
            raise AssertionError("no code delivered")

        token = await mfa_token()
        r = await http.post(
            second + "/mfa/associate",
            headers={"authorization": f"Bearer {token}"},
            json={
                **app,
                "authenticator_types": ["oob"],
                "oob_channels": ["sms"],
                "phone_number": PHONE,
            },
        )
        assert r.status_code == 200, r.text
        grant = {
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
            **app,
            "mfa_token": token,
            "oob_code": r.json()["oob_code"],
            "binding_code": await delivered_code(),
        }
        assert (await http.post(first + "/oauth/token", json=grant)).status_code == 200

        challenge = {**app, "mfa_token": await mfa_token(), "challenge_type": "oob"}
        results = await asyncio.gather(
            *(http.post(cluster.urls[i % 2] + "/mfa/challenge", json=challenge) for i in range(100))
        )

    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 9 and statuses.count(429) == 91, statuses
    assert all(
        r.json()["error_description"] == TOO_MANY_SMS for r in results if r.status_code == 429
    )
    assert await _queued(cluster, PHONE) == 10  # the enrollment and nine challenges
