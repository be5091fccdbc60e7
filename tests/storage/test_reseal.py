"""Server-key rotation for the secrets phonegate keeps sealed: after `<new>,<old>`, one
re-seal (hourly housekeeping, or `phonegate bootstrap`) moves every sealed value to the new
key, so the old key can be dropped without losing a provider's credentials."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from phonegate.bootstrap import bootstrap
from phonegate.container import Container
from phonegate.domain import phone_providers
from phonegate.domain.phone_providers import SealedUnreadable, open_sealed
from tests.conftest import make_settings


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


async def test_reseal_moves_provider_credentials_to_the_new_key(
    database_url: str, tmp_path: Path
) -> None:
    old, new = new_key(), new_key()
    async with Container(make_settings(database_url, tmp_path, secret_keys=old)) as c:
        await bootstrap(c)
        async with c.unit_of_work() as uow:
            tenant = await uow.tenants.for_host("")
            assert tenant is not None
            row = phone_providers.new_row(tenant.id, "fallback", "vonage", c.clock.now())
            row.credentials = phone_providers.seal(c.keys, {"api_secret": "s3cret-value"})
            await uow.phone_providers.add(row)
            row_id = row.id

    rotated = make_settings(database_url, tmp_path, secret_keys=f"{new},{old}")
    async with Container(rotated) as c:
        assert await c.reseal_secrets() >= 3  # signing key, demo credentials, the provider
        assert await c.reseal_secrets() == 0  # nothing left under the old key

    async with Container(make_settings(database_url, tmp_path, secret_keys=new)) as c:
        async with c.unit_of_work() as uow:
            tenant = await uow.tenants.for_host("")
            assert tenant is not None
            stored = await uow.phone_providers.get(tenant.id, row_id)
        assert stored is not None
        assert open_sealed(c.keys, stored.credentials) == {"api_secret": "s3cret-value"}
        await bootstrap(c)  # the demo credentials still open with the new key alone


async def test_secrets_under_a_dropped_key_are_refused_not_blank(
    database_url: str, tmp_path: Path
) -> None:
    old = new_key()
    async with Container(make_settings(database_url, tmp_path, secret_keys=old)) as c:
        sealed = phone_providers.seal(c.keys, {"auth_token": "t0ken"})
    async with Container(make_settings(database_url, tmp_path, secret_keys=new_key())) as c:
        try:
            open_sealed(c.keys, sealed)
        except SealedUnreadable:
            pass
        else:
            raise AssertionError("secrets under a dropped key must not open as empty")
        assert phone_providers.open_or_empty(c.keys, sealed) == {}
