"""OpenID discovery and the tenant's JWKS, so relying parties can verify our RS256 tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain.grants import OIDC_SCOPES
from phonegate.web.requests import container, issuer, tenant_scope

router = APIRouter()


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> JSONResponse:
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        # Read fresh, not from this process's cache: every process's keys get published.
        keys = await c.signing_keys(tenant.id, uow, refresh=True)
    return JSONResponse(
        {"keys": [k.jwk() for k in keys]}, headers={"Cache-Control": "public, max-age=300"}
    )


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> JSONResponse:
    base = issuer(request)
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": base + "authorize",
            "token_endpoint": base + "oauth/token",
            "userinfo_endpoint": base + "userinfo",
            "end_session_endpoint": base + "v2/logout",
            "jwks_uri": base + ".well-known/jwks.json",
            "mfa_challenge_endpoint": base + "mfa/challenge",
            "response_types_supported": ["code", "token", "id_token"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "password",
                "client_credentials",
                "http://auth0.com/oauth/grant-type/password-realm",
                "http://auth0.com/oauth/grant-type/mfa-oob",
                "http://auth0.com/oauth/grant-type/mfa-recovery-code",
            ],
            "scopes_supported": [
                *OIDC_SCOPES,
                "offline_access",
                "enroll",
                "read:authenticators",
                "remove:authenticators",
            ],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "email",
                "email_verified",
                "name",
                "nickname",
                "updated_at",
                "amr",
                "auth_time",
                "nonce",
            ],
        }
    )
