"""Server-key rotation, signing keys shared by processes, userinfo, exchange events, and an
access log that never records query strings."""

from __future__ import annotations

import base64
import logging
import secrets
from pathlib import Path

import httpx
import pytest

from phonegate.bootstrap import bootstrap
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.settings import Settings
from phonegate.web.app import create_app
from tests.conftest import BASE_URL, Api


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _settings(database_url: str, tmp_path: Path, keys: str) -> Settings:
    return Settings(env="test", database_url=database_url, data_dir=tmp_path, secret_keys=keys)


async def _api(c: Container) -> tuple[Api, httpx.AsyncClient]:
    creds = await bootstrap(c)
    transport = httpx.ASGITransport(app=create_app(c, background=False))
    client = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
    return Api(client, creds), client


async def test_rotating_the_server_key_locks_nobody_out(database_url: str, tmp_path: Path) -> None:
    """K1 → "K2,K1" → K2 alone: applications, users' recovery codes, the demo credentials
    and the signing key all keep working once the old key is gone."""
    k1, k2 = _key(), _key()
    c = Container(_settings(database_url, tmp_path, k1))
    api, client = await _api(c)
    await api.enable_mfa()
    enrolled = await api.enrolled_user()
    first = api.creds
    jwks_before = (await client.get("/.well-known/jwks.json")).json()
    await client.aclose()
    await c.aclose()

    # Rotation step: the new key in front, the old one still listed (re-wraps on load).
    c = Container(_settings(database_url, tmp_path, f"{k2},{k1}"))
    api, client = await _api(c)
    assert api.creds == first
    # MFA is required for everyone now: mfa_required proves the client secret and the
    # password both verified.
    r = await api.login("demo@example.com", first.password)
    assert r.status_code == 403 and r.json()["error"] == "mfa_required", r.text
    await client.aclose()
    await c.aclose()

    # The old key dropped.
    c = Container(_settings(database_url, tmp_path, k2))
    api, client = await _api(c)
    assert api.creds == first, "bootstrap must print the same credentials after rotation"
    r = await api.login("demo@example.com", first.password, scope="openid")
    assert r.status_code == 403 and r.json()["error"] == "mfa_required", r.text
    assert await api.management_token()  # the management application's secret still works
    assert (await client.get("/.well-known/jwks.json")).json() == jwks_before
    token = await api.mfa_token()
    r = await api.recovery_grant(token, enrolled["recovery_code"])
    assert r.status_code == 200, r.text
    await client.aclose()
    await c.aclose()


async def test_a_key_made_by_another_process_verifies_here(
    database_url: str, tmp_path: Path, api: Api, container: Container
) -> None:
    """Two processes that each created a signing key on first use (a race) still accept
    each other's tokens and publish both keys."""
    other = Container(container.settings)
    try:
        async with other.unit_of_work() as uow:
            tenant = await uow.tenants.for_host("")
            assert tenant is not None
            await uow.signing_keys.add(tenant.id, "other-kid", "x", other.clock.now())
    finally:
        await other.aclose()
    # A key row this process cannot read is refused loudly, not silently skipped.
    with pytest.raises(RuntimeError):
        await container.signing_keys(tenant.id, refresh=True)
    async with container.unit_of_work() as uow:
        await uow.conn.exec_driver_sql("DELETE FROM signing_keys WHERE kid = 'other-kid'")  # type: ignore[attr-defined]

    from phonegate.tokens import export_private_key, generate_signing_key

    foreign = generate_signing_key()
    async with container.unit_of_work() as uow:
        await uow.signing_keys.add(
            tenant.id,
            foreign.kid,
            export_private_key(foreign, container.keys),
            container.clock.now(),
        )
    # This process still has only its own key cached; a token under the other one verifies.
    from phonegate.tokens import sign

    now = int(container.clock.now().timestamp())
    token = sign(
        {
            "iss": "x",
            "sub": f"{api.creds.management_client_id}@clients",
            "aud": "https://phonegate.test/api/v2/",
            "iat": now,
            "exp": now + 600,
            "scope": "read:users",
            "azp": api.creds.management_client_id,
        },
        foreign,
    )
    r = await api.client.get(
        f"/api/v2/users/{api.creds.user_id}", headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    kids = {k["kid"] for k in (await api.client.get("/.well-known/jwks.json")).json()["keys"]}
    assert foreign.kid in kids and len(kids) == 2


async def test_userinfo_follows_the_scopes(api: Api) -> None:
    r = await api.login("demo@example.com", api.creds.password, scope="openid email")
    token = r.json()["access_token"]
    r = await api.client.get("/userinfo", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "sub": api.creds.user_id,
        "email": "demo@example.com",
        "email_verified": True,
    }
    r = await api.client.get("/userinfo", headers={"authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    mgmt = await api.management_token()
    r = await api.client.get("/userinfo", headers={"authorization": f"Bearer {mgmt}"})
    assert r.status_code == 401, "a token for another audience is not a userinfo token"


async def test_token_exchanges_are_logged(
    api: Api, container: Container, clock: FrozenClock
) -> None:
    await api.enable_mfa()
    await api.enrolled_user()
    token = await api.mfa_token()
    r = await api.challenge(token)
    oob = r.json()["oob_code"]
    await api.oob_grant(token, oob, "000000" if await api.last_code() != "000000" else "111111")
    await api.oob_grant(token, oob, await api.last_code())
    await api.recovery_grant(token, "WRONGWRONGWRONGWRONGWRON")
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        types = [e.type for e in await uow.events.list(tenant.id, limit=500)]
    for expected in ("seccft", "seoobft", "feoobft", "fercft", "gd_auth_failed", "gd_auth_succeed"):
        assert expected in types, (expected, types)


async def test_access_log_never_records_query_strings(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="phonegate.access"):
        r = await api.mgmt("GET", "/sandbox/messages", params={"recipient": "+14155550123"})
    assert r.status_code == 200
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "phonegate.access"]
    assert any("/api/v2/sandbox/messages 200" in line for line in lines), lines
    assert not any("4155550123" in line or "recipient" in line for line in lines), lines


async def test_made_up_kids_never_reparse_the_keys(
    api: Api, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token naming an unknown kid costs a look-up of kids, not a reload of every key
    (parsing RSA keys on the event loop for each forged token would be a cheap DoS)."""
    await api.management_token()  # keys loaded and cached
    import phonegate.container as container_module
    from phonegate.tokens import generate_signing_key, sign

    parsed: list[str] = []
    original = container_module.import_private_key
    monkeypatch.setattr(
        container_module,
        "import_private_key",
        lambda kid, pem, keys: parsed.append(kid) or original(kid, pem, keys),
    )
    forger = generate_signing_key()
    for i in range(5):
        forged = sign(
            {"sub": "x", "iat": 0, "exp": 2**40, "aud": "https://phonegate.test/api/v2/"},
            type(forger)(kid=f"made-up-{i}", private_key=forger.private_key),
        )
        r = await api.client.get("/api/v2/users/x", headers={"authorization": f"Bearer {forged}"})
        assert r.status_code == 401, r.text
    assert parsed == []
