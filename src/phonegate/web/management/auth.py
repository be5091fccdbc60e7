"""Management API access: a Bearer JWT from the client_credentials grant, for this tenant's
``/api/v2/`` audience, carrying the scope the endpoint needs (any of several, as Auth0)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from phonegate.domain.events import new_event
from phonegate.domain.grants import MANAGEMENT_SCOPES, split_scope
from phonegate.domain.models import Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InsufficientScope, InvalidToken
from phonegate.tokens import token_kid, verify
from phonegate.web.requests import audiences, container, request_context, tenant_scope

__all__ = ["MANAGEMENT_SCOPES", "Caller", "management_scope", "record_write"]


@dataclass(frozen=True, slots=True)
class Caller:
    client_id: str
    scopes: frozenset[str]
    # The token's subject: "<client_id>@clients" for an application, "admin|<id>" for a
    # dashboard admin, so writes are logged against the person who made them.
    subject: str = ""


@asynccontextmanager
async def management_scope(
    request: Request, *any_of: str
) -> AsyncIterator[tuple[UnitOfWork, Tenant, Caller]]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Missing authentication")
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        keys = await c.signing_keys(tenant.id, uow, want_kid=token_kid(token.strip()))
        try:
            claims: dict[str, Any] = verify(
                token.strip(), keys, audiences=sorted(audiences(request).management)
            )
        except InvalidToken as exc:
            raise InvalidToken(
                exc.description if "Expired" in exc.description else "Invalid token"
            ) from None
        granted = frozenset(split_scope(claims.get("scope")))
        if any_of and not granted.intersection(any_of):
            raise InsufficientScope(f"Insufficient scope, expected any of: {','.join(any_of)}")
        yield (
            uow,
            tenant,
            Caller(
                client_id=str(claims.get("azp", "")),
                scopes=granted,
                subject=str(claims.get("sub", "")),
            ),
        )


def actor(caller: Caller) -> dict[str, str]:
    """Who made a change, for its log event, when it is a person (a dashboard admin) rather
    than an application (whose ``client_id`` the event already names)."""
    if caller.subject and not caller.subject.endswith("@clients"):
        return {"actor": caller.subject}
    return {}


async def record_write(
    request: Request,
    uow: UnitOfWork,
    tenant_id: str,
    caller: Caller,
    description: str,
    *,
    user_id: str | None = None,
    fields: list[str] | None = None,
) -> None:
    """The ``sapi`` log event of a Management API write: who, what, the method and path —
    never the body, which may carry secrets."""
    details: dict[str, Any] = {
        "request": {"method": request.method, "path": request.url.path},
        **actor(caller),
    }
    if fields is not None:
        details["fields"] = fields
    await uow.events.add(
        new_event(
            tenant_id,
            "sapi",
            container(request).clock.now(),
            request_context(request),
            description=description,
            client_id=caller.client_id,
            user_id=user_id,
            details=details,
        )
    )
