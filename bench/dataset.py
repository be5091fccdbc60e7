"""The benchmark's database: a migrated, configured tenant and its users, made fast.

The tenant is set up through phonegate's own Management API, in process (``phonegate api``'s
code path): SMS and recovery-code factors, MFA for every login, the Twilio provider pointed at
the fake, generous phone limits (the defaults would stop a benchmark within a minute) and a
passwordless ``sms`` connection. Users are added in bulk (``bench.seeding``), not one API
call at a time.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.seeding import SMS_CONNECTION, Group, add_users
from phonegate import cli_api
from phonegate.bootstrap import bootstrap
from phonegate.container import Container
from phonegate.keys import KeyRing, parse_keys
from phonegate.passwords import Argon2Passwords
from phonegate.settings import Settings
from phonegate.storage.db import create_engine, normalize_url
from phonegate.storage.migrate import upgrade_async
from phonegate.tokens import MfaTransaction, seal_mfa_token

PASSWORD = "bench password"  # every benchmark user's password
SCOPE = "openid profile"
# Limits no benchmark run reaches; each within what PATCH /attack-protection/phone-limits takes.
LIMITS = {
    "user_messages_per_hour": 1000,
    "number_messages_per_hour": 10000,
    "prefix_messages_per_hour": 1000000,
    "ip_sends_per_minute": 100000,
    "ip_passwordless_per_hour": 100000,
    "tenant_daily_budget": 100000000,
    "wrong_codes": 1000,
}
TOKEN_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Sizes:
    enrolled: int  # MFA users with a confirmed phone (and their enrollment history)
    enrollees: int  # users without a phone yet, for the enrollment scenario
    sms: int  # passwordless users, already signed up
    tokens: int  # how many enrolled users get an mfa_token minted


@dataclass
class Population:
    """What the load needs to act as the tenant's applications and users."""

    database_url: str
    secret_keys: str
    tenant_id: str
    client_id: str
    client_secret: str
    enrolled: Group
    enrollees: Group
    sms: Group
    mfa_tokens: list[str] = field(default_factory=list)  # of enrolled users, by number
    enrollee_tokens: list[str] = field(default_factory=list)

    @property
    def app_auth(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}


def settings_for(
    database_url: str, secret_keys: str, data_dir: Path, redis_url: str | None = None
) -> Settings:
    return Settings(
        env="production",
        database_url=database_url,
        secret_keys=secret_keys,
        data_dir=data_dir,
        redis_url=redis_url,
        outbound_allow_private=True,
    )


def password_hasher(settings: Settings) -> Argon2Passwords:
    """argon2id with the parameters a server built from ``settings`` uses."""
    return Argon2Passwords(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def new_secret_keys() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


async def _configure(c: Container, provider: dict[str, str], client_id: str) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("PUT", "/guardian/factors/sms", {"enabled": True}),
        ("PUT", "/guardian/factors/recovery-code", {"enabled": True}),
        ("PUT", "/guardian/policies", ["all-applications"]),
        ("PUT", "/guardian/factors/phone/providers/twilio", provider),
        ("PUT", "/guardian/factors/phone/selected-provider", {"provider": "twilio"}),
        # Codes of one run are typed back in a later one: let them live the longest allowed.
        ("PUT", "/guardian/factors/phone/settings", {"otp_expiration_time": 3600}),
        ("PATCH", "/attack-protection/phone-limits", LIMITS),
        (
            "POST",
            "/connections",
            {
                "name": SMS_CONNECTION,
                "strategy": "sms",
                "options": {},
                "enabled_clients": [client_id],
            },
        ),
    ]
    for method, path, body in calls:
        response = await cli_api.call(c, method, path, body)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")


def mint_tokens(pop: Population, group: Group, count: int) -> list[str]:
    """mfa_tokens as the password grant issues them (sealed with the server key), for the
    scenarios that start after the first factor."""
    keys = KeyRing(parse_keys(pop.secret_keys))
    now = datetime.now(UTC).timestamp()
    return [
        seal_mfa_token(
            MfaTransaction(
                tenant_id=pop.tenant_id,
                user_id=group.user_id(i),
                client_id=pop.client_id,
                audience="",
                scope=SCOPE,
                realm=None,
                issued_at=now,
                expires_at=now + TOKEN_LIFETIME.total_seconds(),
            ),
            keys,
        )
        for i in range(min(count, group.count))
    ]


async def populate(
    database_url: str, data_dir: Path, sizes: Sizes, provider: dict[str, str]
) -> Population:
    """Migrate ``database_url``, set the tenant up and add the users ``sizes`` asks for."""
    await upgrade_async(database_url)
    secret_keys = new_secret_keys()
    async with Container(settings_for(database_url, secret_keys, data_dir)) as c:
        creds = await bootstrap(c)
        await _configure(c, provider, creds.client_id)
        async with c.unit_of_work() as uow:
            tenant = await uow.tenants.for_host("")
            assert tenant is not None
        password_hash = await c.passwords.hash(PASSWORD)
        pop = Population(
            database_url=database_url,
            secret_keys=secret_keys,
            tenant_id=tenant.id,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            enrolled=Group("enrolled", sizes.enrolled, 14152000000),
            enrollees=Group("enrollee", sizes.enrollees, 14156000000),
            sms=Group("sms", sizes.sms, 14158000000),
        )
        async with c.engine.begin() as conn:
            await add_users(
                conn,
                [pop.enrolled, pop.enrollees, pop.sms],
                tenant.id,
                creds.client_id,
                password_hash,
            )
    pop.mfa_tokens = mint_tokens(pop, pop.enrolled, sizes.tokens)
    pop.enrollee_tokens = mint_tokens(pop, pop.enrollees, pop.enrollees.count)
    return pop


async def _admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def create_postgres_database(admin_url: str, label: str) -> str:
    """A throwaway database on the server ``admin_url`` names; returns its URL."""
    name = f"phonegate_bench_{label}_{secrets.token_hex(4)}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(normalize_url(admin_url)).set(database=name).render_as_string(False)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
