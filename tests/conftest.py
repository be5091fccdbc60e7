"""Shared fixtures: a real database (SQLite file, and PostgreSQL when configured), the app
over httpx's ASGI transport, bootstrap credentials, and an ``Api`` helper for the flows.

``PHONEGATE_STRICT=1`` (set by ``.ci/run``) turns "service not configured" skips into failures.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from phonegate.bootstrap import Credentials, bootstrap
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.settings import Settings
from phonegate.storage.db import create_engine, normalize_url
from phonegate.storage.migrate import upgrade
from phonegate.storage.tables import metadata
from phonegate.web.app import create_app

STRICT = os.environ.get("PHONEGATE_STRICT") == "1"
PG_URL = os.environ.get("PHONEGATE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PHONEGATE_TEST_REDIS_URL", "")
BASE_URL = "http://phonegate.test"


def need(value: str, what: str) -> str:
    if not value:
        if STRICT:
            pytest.fail(f"{what} is not set, and PHONEGATE_STRICT=1 forbids skipping")
        pytest.skip(f"{what} is not set")
    return value


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """A throwaway database per test session on the configured server, so concurrent runs
    (a developer and CI, or two developers) never see each other's rows."""
    base = need(PG_URL, "PHONEGATE_TEST_DATABASE_URL")
    import asyncio

    name = f"phonegate_test_{os.getpid()}_{secrets.token_hex(4)}"
    url = make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False)

    async def _admin(statement: str) -> None:
        engine = create_engine(base)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(statement))
        await engine.dispose()

    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_all(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage/API test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "phonegate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
    else:
        url: str = request.getfixturevalue("postgres_migrated")
        import asyncio

        asyncio.run(truncate_all(url))
        yield url


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # Cheap argon2: the suite logs in thousands of times; the production cost is measured
    # by the benchmarks, not paid by every test.
    overrides = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "secret_keys": key, **overrides}
    return Settings(env="test", database_url=database_url, data_dir=tmp_path, **overrides)


@pytest.fixture
def clock() -> FrozenClock:
    from datetime import UTC, datetime

    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def container(settings: Settings, clock: FrozenClock) -> AsyncIterator[Container]:
    c = Container(settings, clock=clock)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
async def creds(container: Container) -> Credentials:
    return await bootstrap(container)


@pytest.fixture
async def client(container: Container, creds: Credentials) -> AsyncIterator[httpx.AsyncClient]:
    # No background loop: each request's after-commit dispatch runs as a BackgroundTask,
    # which the ASGI transport completes before returning — deliveries are deterministic.
    app = create_app(container, background=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


class Api:
    """The Auth0 flows as a test would drive them, with the bootstrap credentials."""

    def __init__(self, client: httpx.AsyncClient, creds: Credentials) -> None:
        self.client = client
        self.creds = creds
        self._mgmt: str | None = None

    @property
    def app_auth(self) -> dict[str, str]:
        return {"client_id": self.creds.client_id, "client_secret": self.creds.client_secret}

    async def management_token(self, scope: str | None = None) -> str:
        body = {
            "grant_type": "client_credentials",
            "client_id": self.creds.management_client_id,
            "client_secret": self.creds.management_client_secret,
            "audience": "https://phonegate.test/api/v2/",
        }
        if scope is not None:
            body["scope"] = scope
        r = await self.client.post("/oauth/token", json=body)
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    async def mgmt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._mgmt is None:
            self._mgmt = await self.management_token()
        headers = {"authorization": f"Bearer {self._mgmt}", **kwargs.pop("headers", {})}
        return await self.client.request(method, "/api/v2" + path, headers=headers, **kwargs)

    async def create_user(
        self, email: str = "alice@example.com", password: str = "correct horse 1"
    ) -> str:
        r = await self.mgmt(
            "POST",
            "/users",
            json={
                "connection": "Username-Password-Authentication",
                "email": email,
                "password": password,
            },
        )
        assert r.status_code == 201, r.text
        user_id: str = r.json()["user_id"]
        return user_id

    async def enable_mfa(
        self, message_types: list[str] | None = None, recovery: bool = True
    ) -> None:
        for name, enabled in (("sms", True), ("recovery-code", recovery)):
            r = await self.mgmt("PUT", f"/guardian/factors/{name}", json={"enabled": enabled})
            assert r.status_code == 200, r.text
        if message_types:
            r = await self.mgmt(
                "PUT",
                "/guardian/factors/phone/message-types",
                json={"message_types": message_types},
            )
            assert r.status_code == 200, r.text
        r = await self.mgmt("PUT", "/guardian/policies", json=["all-applications"])
        assert r.status_code == 200, r.text

    async def login(
        self, email: str = "alice@example.com", password: str = "correct horse 1", **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            "/oauth/token",
            json={
                "grant_type": "password",
                "username": email,
                "password": password,
                **self.app_auth,
                **extra,
            },
        )

    async def mfa_token(
        self, email: str = "alice@example.com", password: str = "correct horse 1"
    ) -> str:
        r = await self.login(email, password, scope="openid profile")
        assert r.status_code == 403 and r.json()["error"] == "mfa_required", r.text
        token: str = r.json()["mfa_token"]
        return token

    async def associate(
        self, mfa_token: str, phone: str = "+14155550123", channel: str = "sms"
    ) -> httpx.Response:
        return await self.client.post(
            "/mfa/associate",
            headers={"authorization": f"Bearer {mfa_token}"},
            json={
                **self.app_auth,
                "authenticator_types": ["oob"],
                "oob_channels": [channel],
                "phone_number": phone,
            },
        )

    async def challenge(self, mfa_token: str, **extra: Any) -> httpx.Response:
        return await self.client.post(
            "/mfa/challenge",
            json={**self.app_auth, "mfa_token": mfa_token, "challenge_type": "oob", **extra},
        )

    async def oob_grant(self, mfa_token: str, oob_code: str, binding_code: str) -> httpx.Response:
        return await self.client.post(
            "/oauth/token",
            json={
                "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
                **self.app_auth,
                "mfa_token": mfa_token,
                "oob_code": oob_code,
                "binding_code": binding_code,
            },
        )

    async def recovery_grant(self, mfa_token: str, code: str) -> httpx.Response:
        return await self.client.post(
            "/oauth/token",
            json={
                "grant_type": "http://auth0.com/oauth/grant-type/mfa-recovery-code",
                **self.app_auth,
                "mfa_token": mfa_token,
                "recovery_code": code,
            },
        )

    async def inbox(self) -> list[dict[str, Any]]:
        r = await self.mgmt("GET", "/sandbox/messages")
        assert r.status_code == 200, r.text
        messages: list[dict[str, Any]] = r.json()
        return messages

    async def last_code(self, recipient: str | None = None) -> str:
        for message in await self.inbox():
            if recipient is None or message["recipient"] == recipient:
                code: str = message["code"]
                return code
        raise AssertionError("no message in the sandbox inbox")

    async def enrolled_user(
        self, email: str = "alice@example.com", phone: str = "+14155550123"
    ) -> dict[str, str]:
        """A user with a confirmed phone; returns ids and the first recovery code."""
        user_id = await self.create_user(email)
        token = await self.mfa_token(email)
        r = await self.associate(token, phone)
        assert r.status_code == 200, r.text
        body = r.json()
        code = await self.last_code(phone)
        r = await self.oob_grant(token, body["oob_code"], code)
        assert r.status_code == 200, r.text
        return {"user_id": user_id, "recovery_code": (body.get("recovery_codes") or [""])[0]}


@pytest.fixture
async def api(client: httpx.AsyncClient, creds: Credentials) -> Api:
    return Api(client, creds)


@pytest.fixture
async def lenient(container: Container, creds: Credentials) -> AsyncIterator[Api]:
    """An Api whose transport turns a server crash into a 500 response instead of raising
    into the test, so "never a 500" can be asserted and every offender listed."""
    app = create_app(container, background=False)
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=("203.0.113.7", 4242)
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield Api(c, creds)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for the session, and an async test after it could not start its own."""
    items.sort(key=lambda item: item.path.parts[-2] == "browser")
