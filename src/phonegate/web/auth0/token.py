"""``POST /oauth/token``: the password, password-realm, mfa-oob, mfa-recovery-code,
passwordless/otp, client_credentials, authorization_code and refresh_token grants (Auth0
Authentication API; the last two per RFC 6749 §4.1.3 and §6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.container import Container
from phonegate.domain import authorization, challenges, clients, login, passwordless, users
from phonegate.domain.events import new_event
from phonegate.domain.grants import Audiences, Grant, split_scope
from phonegate.domain.models import Application, RequestContext, Tenant, User
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import AccessDenied, InvalidRequest, PhonegateError
from phonegate.tokens import token_response
from phonegate.web.requests import (
    audiences,
    container,
    issuer,
    read_object,
    request_context,
    tenant_scope,
)

router = APIRouter()

SUPPORTED = (
    clients.GRANT_PASSWORD,
    clients.GRANT_PASSWORD_REALM,
    clients.GRANT_MFA_OOB,
    clients.GRANT_MFA_RECOVERY,
    clients.GRANT_CLIENT_CREDENTIALS,
    clients.GRANT_PASSWORDLESS_OTP,
    clients.GRANT_AUTHORIZATION_CODE,
    clients.GRANT_REFRESH_TOKEN,
)
PASSWORD_GRANTS = (clients.GRANT_PASSWORD, clients.GRANT_PASSWORD_REALM)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Token-exchange log events (success, failure) by grant; password logins log s/fp/fu.
EXCHANGE_EVENTS: dict[str, tuple[str | None, str | None]] = {
    clients.GRANT_CLIENT_CREDENTIALS: ("seccft", "feccft"),
    clients.GRANT_MFA_OOB: ("seoobft", "feoobft"),
    clients.GRANT_MFA_RECOVERY: ("sercft", "fercft"),
    clients.GRANT_AUTHORIZATION_CODE: ("seacft", "feacft"),
    clients.GRANT_REFRESH_TOKEN: ("sertft", "fertft"),
    # A passwordless login logs s; Auth0 has no success code of its own for the exchange.
    clients.GRANT_PASSWORDLESS_OTP: (None, "fepotpft"),
}


def _basic_credentials(request: Request, body: dict[str, Any]) -> None:
    """client_secret_basic: credentials in the Authorization header."""
    import base64
    from urllib.parse import unquote

    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return
    request.state.basic_auth = True
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except ValueError:
        raise AccessDenied("Unauthorized") from None
    if "\x00" in decoded or "%00" in decoded:
        raise AccessDenied("Unauthorized")
    cid, _, secret = decoded.partition(":")
    body.setdefault("client_id", unquote(cid))
    body.setdefault("client_secret", unquote(secret))


def _id_claims(user: User, scope: str, amr: list[str]) -> dict[str, Any]:
    return {**users.profile_claims(user, split_scope(scope)), "amr": amr}


@router.post("/oauth/token")
async def token(request: Request) -> JSONResponse:
    body = await read_object(request)
    _basic_credentials(request, body)
    grant_type = body.get("grant_type")
    if not isinstance(grant_type, str) or not grant_type:
        raise InvalidRequest("Missing required parameter: grant_type")
    if grant_type not in SUPPORTED:
        raise PhonegateError(
            f"Unsupported grant type: {grant_type}", status=403, error="unsupported_grant_type"
        )
    c = container(request)
    ctx = request_context(request)
    auds = audiences(request)
    success, failure = EXCHANGE_EVENTS.get(grant_type, (None, None))
    checked: login.CheckedPassword | None = None
    if grant_type in PASSWORD_GRANTS:
        async with tenant_scope(request, read_only=True) as (uow, tenant):
            stored = await login.check_password_first(uow, c.deps, tenant, body)
        checked = await login.verify_outside(c.deps, stored, body)
    async with tenant_scope(request) as (uow, tenant):
        app: Application | None = None
        try:
            app = await clients.authenticate(
                uow, tenant.id, body.get("client_id"), body.get("client_secret"), grant_type
            )
            if grant_type == clients.GRANT_CLIENT_CREDENTIALS:
                response = await _client_credentials(
                    request, body, app.client_id, app.client_grants, tenant.id, uow
                )
                await _exchange_event(uow, c, tenant.id, success, ctx, app.client_id, app.name)
                return response
            authorized: authorization.Authorized | None = None
            if grant_type == clients.GRANT_AUTHORIZATION_CODE:
                authorized = await authorization.redeem_code(uow, c.deps, tenant, app, body)
            elif grant_type == clients.GRANT_REFRESH_TOKEN:
                authorized = await authorization.refresh(uow, c.deps, tenant, app, body)
            grant = (
                authorized.grant
                if authorized
                else await _user_grant(uow, c, tenant, app, grant_type, body, ctx, auds, checked)
            )
        except PhonegateError as exc:
            # Name the client only if it exists: the body is not authenticated yet, and
            # logs must not take arbitrary strings from anyone who can send a request.
            claimed = body.get("client_id")
            if app is not None:  # authenticated: mfa_required, a wrong code, …
                known: Application | None = app
            elif isinstance(claimed, str) and 0 < len(claimed) <= 64:
                known = await uow.applications.get(tenant.id, claimed)
            else:
                known = None
            await _exchange_event(
                uow,
                c,
                tenant.id,
                failure,
                ctx,
                known.client_id if known else None,
                known.name if known else None,
                exc.description,
            )
            raise
        await _exchange_event(
            uow, c, tenant.id, success, ctx, app.client_id, app.name, user_id=grant.user.user_id
        )
    keys = await c.signing_keys(tenant.id)
    in_mfa_api = grant.audience in auds.mfa
    id_claims = _id_claims(grant.user, grant.scope, grant.amr)
    if authorized is not None:
        id_claims["auth_time"] = int(authorized.auth_time.timestamp())
        if authorized.nonce:
            id_claims["nonce"] = authorized.nonce
    result = token_response(
        issuer=issuer(request),
        subject=grant.user.user_id,
        client_id=app.client_id,
        audience=grant.audience or auds.userinfo,
        scope=grant.scope,
        key=keys[0],
        now=c.clock.now(),
        ttl=c.settings.mfa_access_token_ttl_seconds
        if in_mfa_api
        else c.settings.access_token_ttl_seconds,
        id_claims=id_claims,
        extra_audience=auds.userinfo if "openid" in grant.scope.split() else None,
    )
    if grant.recovery_code:
        result["recovery_code"] = grant.recovery_code
    if authorized is not None and authorized.refresh_token:
        result["refresh_token"] = authorized.refresh_token
    return JSONResponse(result, headers=NO_STORE)


async def _user_grant(
    uow: UnitOfWork,
    c: Container,
    tenant: Tenant,
    app: Application,
    grant_type: str,
    body: dict[str, Any],
    ctx: RequestContext,
    auds: Audiences,
    checked: login.CheckedPassword | None,
) -> Grant:
    if grant_type in PASSWORD_GRANTS:
        return await login.password_grant(
            uow,
            c.deps,
            tenant,
            app,
            body,
            auds,
            ctx,
            realm_required=grant_type == clients.GRANT_PASSWORD_REALM,
            checked=checked,
        )
    if grant_type == clients.GRANT_PASSWORDLESS_OTP:
        return await passwordless.exchange_code(uow, c.deps, tenant, app, body, auds, ctx)
    txn, user = await challenges.load_transaction(uow, c.deps, tenant, app, body.get("mfa_token"))
    if grant_type == clients.GRANT_MFA_OOB:
        user, _kind = await challenges.verify_oob(uow, c.deps, tenant, app, body, ctx, user=user)
        grant = Grant(
            user=user, app=app, scope=txn.scope, audience=txn.audience or None, amr=["mfa"]
        )
    else:
        user, fresh = await challenges.use_recovery_code(uow, c.deps, tenant, app, body, ctx)
        grant = Grant(
            user=user,
            app=app,
            scope=txn.scope,
            audience=txn.audience or None,
            amr=["mfa"],
            recovery_code=fresh,
        )
    await login.succeed(uow, c.deps, tenant, app, grant.user, ctx)
    return grant


async def _exchange_event(
    uow: UnitOfWork,
    c: Container,
    tenant_id: str,
    type_: str | None,
    ctx: RequestContext,
    client_id: str | None,
    client_name: str | None,
    description: str | None = None,
    *,
    user_id: str | None = None,
) -> None:
    if type_ is not None:
        await uow.events.add(
            new_event(
                tenant_id,
                type_,
                c.clock.now(),
                ctx,
                description=description,
                client_id=client_id,
                client_name=client_name,
                user_id=user_id,
            )
        )


async def _client_credentials(
    request: Request,
    body: dict[str, Any],
    client_id: str,
    client_grants: dict[str, list[str]],
    tenant_id: str,
    uow: UnitOfWork,
) -> JSONResponse:
    c = container(request)
    audience = body.get("audience")
    auds = audiences(request)
    if not isinstance(audience, str) or not audience:
        raise InvalidRequest("Missing required parameter: audience")
    if audience not in auds.management:
        raise AccessDenied(f"Service not found: {audience}", status=403)
    allowed = client_grants.get("management", [])
    if not allowed:
        raise AccessDenied(
            f'Client is not authorized to access "{audience}". You need to create a "client-grant" '
            "associated to this API.",
            status=403,
        )
    wanted = split_scope(body.get("scope"))
    scope = " ".join(s for s in wanted if s in allowed) if wanted else " ".join(allowed)
    keys = await c.signing_keys(tenant_id, uow)
    result = token_response(
        issuer=issuer(request),
        subject=f"{client_id}@clients",
        client_id=client_id,
        audience=audience,
        scope=scope,
        key=keys[0],
        now=c.clock.now(),
        ttl=c.settings.access_token_ttl_seconds,
    )
    return JSONResponse(result, headers=NO_STORE)
