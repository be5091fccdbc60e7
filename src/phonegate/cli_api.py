"""``phonegate api``: call the Management API in-process, without a network or a token.

Every setting has a Management API call; this command is its CLI equivalent, so the CLI
validates exactly as the API does (same routes, same errors) and needs no second
implementation. It signs a short-lived token for itself with the tenant's key, holding every
Management scope: whoever runs it can read the database and the server keys anyway.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from phonegate.container import Container
from phonegate.domain.grants import MANAGEMENT_SCOPES
from phonegate.tokens import internal_management_token

CLI_CLIENT_ID = "phonegate-cli"
TOKEN_TTL_SECONDS = 300


async def call(
    container: Container, method: str, path: str, body: Any | None = None
) -> httpx.Response:
    from phonegate.web.app import create_app

    settings = container.settings
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    host = base.split("://", 1)[1]
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host(host)
        if tenant is None:
            raise SystemExit("no tenant is configured; run `phonegate bootstrap` first")
        keys = await container.signing_keys(tenant.id, uow)
    token = internal_management_token(
        issuer=base + "/",
        subject=f"{CLI_CLIENT_ID}@clients",
        client_id=CLI_CLIENT_ID,
        key=keys[0],
        ttl=TOKEN_TTL_SECONDS,
        scopes=MANAGEMENT_SCOPES,
    )
    app = create_app(container, background=False)
    path = path if path.startswith("/api/v2") else "/api/v2/" + path.lstrip("/")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        headers = {"authorization": f"Bearer {token}"}
        if body is not None:
            headers["content-type"] = "application/json"
        return await client.request(
            method.upper(),
            path,
            headers=headers,
            content=None if body is None else json.dumps(body),
        )
