"""Two phonegate server processes on one database: single use still holds across them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from phonegate.bootstrap import Credentials, bootstrap
from phonegate.container import Container
from tests.conftest import make_settings
from tests.e2e.conftest import _free_port

REALM = "Username-Password-Authentication"


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], Credentials]]:
    settings = make_settings(database_url, tmp_path)

    async def _boot() -> Credentials:
        async with Container(settings) as c:
            return await bootstrap(c)

    creds = asyncio.run(_boot())
    env = {
        **os.environ,
        "PHONEGATE_ENV": "test",
        "PHONEGATE_DATABASE_URL": database_url,
        "PHONEGATE_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "PHONEGATE_DATA_DIR": str(tmp_path),
        "PHONEGATE_DISPATCH_INTERVAL_SECONDS": "0.2",
        "PHONEGATE_LOG_LEVEL": "warning",
        # Behind one load balancer both processes answer for the same public URL.
        "PHONEGATE_PUBLIC_URL": "https://auth.example.test",
    }
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "phonegate.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 30
        for url, proc in zip(urls, procs, strict=True):
            while True:
                try:
                    if httpx.get(url + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not start: {proc.stderr.read() if proc.stderr else ''}"
                    )
                time.sleep(0.1)
        yield urls, creds
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def test_single_use_across_two_processes(two_servers: tuple[list[str], Credentials]) -> None:
    urls, creds = two_servers
    app = {"client_id": creds.client_id, "client_secret": creds.client_secret}
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(
            urls[0] + "/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": creds.management_client_id,
                "client_secret": creds.management_client_secret,
                "audience": "https://auth.example.test/api/v2/",
            },
        )
        mgmt = {"authorization": f"Bearer {r.json()['access_token']}"}
        await http.post(
            urls[0] + "/api/v2/users",
            headers=mgmt,
            json={"connection": REALM, "email": "two@example.com", "password": "two processes"},
        )
        await http.put(
            urls[1] + "/api/v2/guardian/factors/sms", headers=mgmt, json={"enabled": True}
        )
        await http.put(
            urls[1] + "/api/v2/guardian/policies", headers=mgmt, json=["all-applications"]
        )

        async def mfa_token() -> str:
            r = await http.post(
                urls[0] + "/oauth/token",
                json={
                    "grant_type": "password",
                    "username": "two@example.com",
                    "password": "two processes",
                    **app,
                },
            )
            assert r.status_code == 403, r.text
            token: str = r.json()["mfa_token"]
            return token

        async def code_for(oob_url: str) -> str:
            for _ in range(200):
                messages = (
                    await http.get(oob_url + "/api/v2/sandbox/messages", headers=mgmt)
                ).json()
                if messages:
                    code: str = messages[0]["code"]
                    return code
                await asyncio.sleep(0.05)
            raise AssertionError("no code delivered")

        token = await mfa_token()
        r = await http.post(
            urls[1] + "/mfa/associate",
            headers={"authorization": f"Bearer {token}"},
            json={
                **app,
                "authenticator_types": ["oob"],
                "oob_channels": ["sms"],
                "phone_number": "+14155550177",
            },
        )
        assert r.status_code == 200, r.text
        oob_code, code = r.json()["oob_code"], await code_for(urls[0])

        grant = {
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
            **app,
            "mfa_token": token,
            "oob_code": oob_code,
            "binding_code": code,
        }
        results = await asyncio.gather(
            *(http.post(urls[i % 2] + "/oauth/token", json=grant) for i in range(20))
        )

    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 1, [r.text for r in results]
    assert all(s == 403 for s in statuses if s != 200), statuses
