"""``GET /userinfo`` (OpenID Connect): the profile an access token's scopes allow."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain import users
from phonegate.domain.grants import split_scope
from phonegate.errors import InvalidToken
from phonegate.tokens import token_kid, verify
from phonegate.web.requests import audiences, bearer, container, tenant_scope

router = APIRouter()


@router.get("/userinfo")
async def userinfo(request: Request) -> JSONResponse:
    token = bearer(request)
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        keys = await c.signing_keys(tenant.id, uow, want_kid=token_kid(token))
        claims = verify(token, keys, audiences=[audiences(request).userinfo])
        user = await uow.users.get(tenant.id, str(claims["sub"]))
    if user is None or user.blocked:
        raise InvalidToken("The user of this token no longer exists or is blocked.")
    scopes = split_scope(claims.get("scope"))
    return JSONResponse({"sub": user.user_id, **users.profile_claims(user, scopes)})
