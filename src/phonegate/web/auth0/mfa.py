"""The MFA API: ``/mfa/associate``, ``/mfa/challenge``, ``/mfa/authenticators``."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse

from phonegate.domain import challenges, clients, enrollments
from phonegate.domain.grants import split_scope
from phonegate.domain.models import Application, Tenant, User
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InsufficientScope, InvalidGrant, InvalidToken
from phonegate.tokens import MFA_TOKEN_PREFIX, open_mfa_token, token_kid, verify
from phonegate.web.requests import (
    audiences,
    bearer,
    container,
    deliver_after_commit,
    read_object,
    request_context,
    tenant_scope,
)

router = APIRouter(prefix="/mfa")


async def _client(
    uow: UnitOfWork,
    request: Request,
    tenant: Tenant,
    body: dict[str, Any],
    fallback_client_id: str | None,
) -> Application:
    """The calling application: authenticated when it names itself, else the one the
    mfa_token was issued to (the token already proves the first factor)."""
    if "client_id" in body or fallback_client_id is None:
        return await clients.authenticate(
            uow, tenant.id, body.get("client_id"), body.get("client_secret"), None
        )
    app = await uow.applications.get(tenant.id, fallback_client_id)
    if app is None:
        raise InvalidGrant("Malformed mfa_token")
    return app


async def _access_token_user(
    uow: UnitOfWork, request: Request, tenant: Tenant, token: str, scope: str
) -> tuple[User, str]:
    c = container(request)
    claims = verify(
        token,
        await c.signing_keys(tenant.id, uow, want_kid=token_kid(token)),
        audiences=sorted(audiences(request).mfa),
    )
    if scope not in split_scope(claims.get("scope")):
        raise InsufficientScope(f"Insufficient scope, expected: {scope}")
    user = await uow.users.get(tenant.id, str(claims["sub"]))
    if user is None:
        raise InvalidToken("The user of this token no longer exists.")
    return user, str(claims.get("azp", ""))


@router.post("/associate")
async def associate(request: Request, background: BackgroundTasks) -> JSONResponse:
    body = await read_object(request)
    token = bearer(request)
    c = container(request)
    ctx = request_context(request)
    async with tenant_scope(request) as (uow, tenant):
        if token.startswith(MFA_TOKEN_PREFIX):
            # Here the mfa_token is the Authorization header's credential, so a bad one is
            # a 401 (wire reference 1.3), not the grant endpoint's invalid_grant.
            try:
                txn = open_mfa_token(token, c.keys, c.clock.now())
                app = await _client(uow, request, tenant, body, txn.client_id)
                _, user = await challenges.load_transaction(uow, c.deps, tenant, app, token)
            except InvalidGrant:
                raise InvalidToken(
                    "The mfa_token provided is invalid. Try getting a new token."
                ) from None
            additional = False
        else:
            user, azp = await _access_token_user(uow, request, tenant, token, "enroll")
            app = await _client(uow, request, tenant, body, azp or None)
            additional = True
        started = await enrollments.associate(
            uow, c.deps, tenant, app, user, body, ctx, additional_allowed=additional
        )
    deliver_after_commit(request, background)
    result: dict[str, Any] = {
        "authenticator_type": "oob",
        "binding_method": "prompt",
        "oob_channel": started.channel,
        "oob_code": started.oob_code,
    }
    if started.recovery_code:
        result["recovery_codes"] = [started.recovery_code]
    return JSONResponse(result, headers={"Cache-Control": "no-store"})


@router.post("/challenge")
async def challenge(request: Request, background: BackgroundTasks) -> JSONResponse:
    body = await read_object(request)
    c = container(request)
    ctx = request_context(request)
    async with tenant_scope(request) as (uow, tenant):
        token = body.get("mfa_token")
        txn = open_mfa_token(token if isinstance(token, str) else None, c.keys, c.clock.now())
        app = await _client(uow, request, tenant, body, txn.client_id)
        oob_code = await challenges.start_challenge(uow, c.deps, tenant, app, body, ctx)
    deliver_after_commit(request, background)
    return JSONResponse(
        {"challenge_type": "oob", "oob_code": oob_code, "binding_method": "prompt"},
        headers={"Cache-Control": "no-store"},
    )


@router.get("/authenticators")
async def list_authenticators(request: Request) -> JSONResponse:
    token = bearer(request)
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        if token.startswith(MFA_TOKEN_PREFIX):
            txn = open_mfa_token(token, c.keys, c.clock.now())
            if txn.tenant_id != tenant.id:
                raise InvalidGrant("Malformed mfa_token")
            found = await uow.users.get(tenant.id, txn.user_id)
            if found is None:
                raise InvalidGrant("The mfa_token provided is invalid. Try getting a new token.")
            user = found
        else:
            user, _ = await _access_token_user(uow, request, tenant, token, "read:authenticators")
        entries = await enrollments.list_authenticators(uow, tenant, user)
    return JSONResponse(entries)


@router.delete("/authenticators/{authenticator_id:path}", status_code=204)
async def delete_authenticator(request: Request, authenticator_id: str) -> Response:
    token = bearer(request)
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        if token.startswith(MFA_TOKEN_PREFIX):
            raise InsufficientScope(
                "An mfa_token cannot remove authenticators; use an access token "
                "for the MFA API with the remove:authenticators scope."
            )
        user, azp = await _access_token_user(uow, request, tenant, token, "remove:authenticators")
        await enrollments.delete_authenticator(
            uow,
            c.deps,
            tenant,
            user,
            unquote(authenticator_id),
            request_context(request),
            azp or None,
        )
    return Response(status_code=204)
