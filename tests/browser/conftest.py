"""Browser fixtures: one headless Chromium (Debian's, driven by Playwright) for the session,
a live phonegate server on SQLite with MFA by phone (SMS and voice) required, and the sample
application (examples/webapp) registered on the demo application, each on a free loopback
port. Every test gets a fresh browser context (no cookies) with one page, and its own user.

Screenshots go to ``test-artifacts/screenshots/<test>-<page>.png``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from examples.webapp.app import create_app as create_webapp
from examples.webapp.config import WebappConfig

from phonegate.bootstrap import Credentials, bootstrap
from phonegate.container import Container
from phonegate.settings import Settings
from phonegate.storage.migrate import upgrade
from phonegate.web.app import create_app
from tests.conftest import make_settings, need
from tests.fakes.server import free_port

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse 1"


class Served:
    """An ASGI app on a loopback port, in a thread of the test process."""

    def __init__(self, app: Any, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the server for {self.url} did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Phonegate:
    """The live server and a Management API session on it."""

    url: str
    creds: Credentials
    http: httpx.Client
    sample_url: str  # where the sample application runs (its callback is registered)

    def mgmt(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, "/api/v2" + path, json=body)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def new_user(self) -> str:
        email = f"user-{secrets.token_hex(4)}@example.com"
        self.mgmt(
            "POST",
            "/users",
            {
                "connection": "Username-Password-Authentication",
                "email": email,
                "password": PASSWORD,
            },
        )
        return email

    def sandbox_code(self, recipient: str, seen: set[str]) -> str:
        """The next code the sandbox provider delivered to ``recipient``."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = self.http.get("/api/v2/sandbox/messages", params={"recipient": recipient})
            for message in r.json():
                if message["id"] not in seen:
                    seen.add(message["id"])
                    code: str = message["code"]
                    return code
            time.sleep(0.05)
        raise AssertionError(f"no code reached {recipient}")

    def enrolled_user(self, number: str) -> tuple[str, str]:
        """A user with a confirmed phone (through the MFA API); its email and recovery code."""
        email = self.new_user()
        auth = {"client_id": self.creds.client_id, "client_secret": self.creds.client_secret}
        login = {"grant_type": "password", "username": email, "password": PASSWORD}
        token = self.http.post("/oauth/token", json={**login, **auth}).json()["mfa_token"]
        enrollment = {
            "authenticator_types": ["oob"],
            "oob_channels": ["sms"],
            "phone_number": number,
        }
        r = self.http.post(
            "/mfa/associate",
            headers={"authorization": f"Bearer {token}"},
            json={**auth, **enrollment},
        )
        assert r.status_code == 200, r.text
        started = r.json()
        confirm = {
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
            "mfa_token": token,
            "oob_code": started["oob_code"],
            "binding_code": self.sandbox_code(number, set()),
        }
        r = self.http.post("/oauth/token", json={**confirm, **auth})
        assert r.status_code == 200, r.text
        recovery: str = started["recovery_codes"][0]
        return email, recovery


_numbers = itertools.count(100)


async def _bootstrap(settings: Settings, sample_app_url: str) -> Credentials:
    async with Container(settings) as c:
        creds = await bootstrap(c)
        async with c.unit_of_work() as uow:
            tenant = await uow.tenants.get_by_name("default")
            assert tenant is not None
            await uow.applications.set_urls(
                tenant.id,
                creds.client_id,
                callbacks=[f"{sample_app_url}/callback"],
                allowed_logout_urls=[f"{sample_app_url}/"],
                web_origins=[sample_app_url],
            )
        return creds


@pytest.fixture(scope="session")
def phonegate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phonegate]:
    data = tmp_path_factory.mktemp("browser")
    url = f"sqlite+aiosqlite:///{data / 'phonegate.db'}"
    port, sample_port = free_port(), free_port()
    settings = make_settings(
        url, data, port=port, dispatch_interval_seconds=0.2, outbound_allow_private=True
    )
    sample_url = f"http://127.0.0.1:{sample_port}"
    # Playwright's sync API may already run an event loop in this thread: set up in another.
    with ThreadPoolExecutor(1) as setup:
        setup.submit(upgrade, url).result()
        creds = setup.submit(asyncio.run, _bootstrap(settings, sample_url)).result()
    with Served(create_app(Container(settings)), port) as served:
        http = httpx.Client(base_url=served.url, timeout=10)
        token = http.post(
            "/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": creds.management_client_id,
                "client_secret": creds.management_client_secret,
                "audience": creds.audience,
            },
        ).json()["access_token"]
        http.headers["authorization"] = f"Bearer {token}"
        gate = Phonegate(served.url, creds, http, sample_url)
        for factor in ("sms", "recovery-code"):
            gate.mgmt("PUT", f"/guardian/factors/{factor}", {"enabled": True})
        gate.mgmt(
            "PUT", "/guardian/factors/phone/message-types", {"message_types": ["sms", "voice"]}
        )
        gate.mgmt("PUT", "/guardian/policies", ["all-applications"])
        yield gate
        http.close()


@pytest.fixture(scope="session")
def sample_app(phonegate: Phonegate) -> Iterator[str]:
    config = WebappConfig(
        phonegate_url=phonegate.url,
        client_id=phonegate.creds.client_id,
        client_secret=phonegate.creds.client_secret,
        url=phonegate.sample_url,
    )
    with Served(create_webapp(config), config.port) as served:
        yield served.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need(CHROMIUM if os.access(CHROMIUM, os.X_OK) else "", f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("", "the playwright package")
        raise
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh context's page; ``@pytest.mark.parametrize("page", [{...}], indirect=True)``
    passes context options (locale, java_script_enabled)."""
    options = {"locale": "en-US", **getattr(request, "param", {})}
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


class Shots:
    """Screenshots of one test, named ``<test>-<page>.png``."""

    def __init__(self, test: str) -> None:
        self.test = re.sub(r"\W+", "-", test.removeprefix("test_")).strip("-")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, tab: Any, name: str) -> None:
        tab.screenshot(path=str(SCREENSHOTS / f"{self.test}-{name}.png"), full_page=True)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.originalname)


@pytest.fixture
def number() -> str:
    """A phone number of this test alone: 555-0100 to 555-0199 are reserved for fiction."""
    return f"+1415555{next(_numbers):04d}"
