"""Production mode: `phonegate serve --workers 2` without background work, and a separate
`phonegate worker` that delivers what the servers queued."""

from __future__ import annotations

import asyncio
import os
import signal
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
PHONE = "+14155550188"


@pytest.fixture
def deployment(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Credentials]]:
    settings = make_settings(database_url, tmp_path)

    async def _boot() -> Credentials:
        async with Container(settings) as c:
            return await bootstrap(c)

    creds = asyncio.run(_boot())
    port = _free_port()
    env = {
        **os.environ,
        "PHONEGATE_ENV": "test",
        "PHONEGATE_DATABASE_URL": database_url,
        "PHONEGATE_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "PHONEGATE_DATA_DIR": str(tmp_path),
        "PHONEGATE_DISPATCH_INTERVAL_SECONDS": "0.2",
        "PHONEGATE_LOG_LEVEL": "warning",
        "PHONEGATE_BACKGROUND_IN_SERVER": "false",
        "PHONEGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "phonegate.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not start: {server.stderr.read() if server.stderr else ''}"
                )
            time.sleep(0.1)
        yield url, env, creds
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def test_worker_delivers_what_the_servers_queue(
    deployment: tuple[str, dict[str, str], Credentials],
) -> None:
    url, env, creds = deployment
    app = {"client_id": creds.client_id, "client_secret": creds.client_secret}
    with httpx.Client(base_url=url, timeout=30) as http:
        token = http.post(
            "/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": creds.management_client_id,
                "client_secret": creds.management_client_secret,
                "audience": url.replace("http://", "https://") + "/api/v2/",
            },
        ).json()["access_token"]
        mgmt = {"authorization": f"Bearer {token}"}
        assert (
            http.put(
                "/api/v2/guardian/factors/sms", headers=mgmt, json={"enabled": True}
            ).status_code
            == 200
        )
        http.put("/api/v2/guardian/policies", headers=mgmt, json=["all-applications"])
        r = http.post(
            "/oauth/token",
            json={
                "grant_type": "password",
                "username": creds.email,
                "password": creds.password,
                **app,
            },
        )
        mfa_token = r.json()["mfa_token"]
        r = http.post(
            "/mfa/associate",
            headers={"authorization": f"Bearer {mfa_token}"},
            json={
                **app,
                "authenticator_types": ["oob"],
                "oob_channels": ["sms"],
                "phone_number": PHONE,
            },
        )
        assert r.status_code == 200, r.text
        # No background work in the servers: nothing is delivered until a worker runs.
        time.sleep(1.0)
        assert http.get("/api/v2/sandbox/messages", headers=mgmt).json() == []
        worker = subprocess.Popen(
            [sys.executable, "-m", "phonegate.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 20
            messages: list[dict[str, str]] = []
            while not messages and time.monotonic() < deadline:
                messages = http.get("/api/v2/sandbox/messages", headers=mgmt).json()
                time.sleep(0.1)
            assert len(messages) == 1 and messages[0]["recipient"] == PHONE
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=20) == 0, worker.stderr.read() if worker.stderr else ""
