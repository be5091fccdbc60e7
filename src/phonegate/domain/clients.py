"""Applications (OAuth clients): authentication at the token endpoint and grant checks."""

from __future__ import annotations

import hashlib
import hmac

from phonegate.domain.models import Application
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import AccessDenied, InvalidRequest, UnauthorizedClient

GRANT_PASSWORD = "password"  # noqa: S105 - a grant type name
GRANT_PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"  # noqa: S105
GRANT_MFA_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
GRANT_MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
GRANT_MFA_RECOVERY = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_PASSWORDLESS_OTP = "http://auth0.com/oauth/grant-type/passwordless/otp"
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name
CONFIDENTIAL_TYPES = ("regular_web", "non_interactive")
SECRET_HASH_ID = "sha256"  # noqa: S105 - a hash scheme name
PUBLIC_AUTH_METHOD = "none"  # token_endpoint_auth_method of clients without a secret


def is_public(app: Application) -> bool:
    """A client that cannot keep a secret (SPA, native): it must prove itself with PKCE."""
    return (
        app.token_endpoint_auth_method == PUBLIC_AUTH_METHOD
        or app.app_type not in CONFIDENTIAL_TYPES
    )


def hash_secret(secret: str) -> tuple[str, str]:
    """Client secrets are 384-bit random strings: a plain SHA-256 cannot be reversed, costs
    nothing per token request (argon2 would), and does not depend on the server key, so a
    key rotation never invalidates an application's credentials."""
    return hashlib.sha256(secret.encode()).hexdigest(), SECRET_HASH_ID


def _secret_matches(candidate: str, digest: str, scheme: str) -> bool:
    computed = hashlib.sha256(candidate.encode()).hexdigest()
    return scheme == SECRET_HASH_ID and hmac.compare_digest(computed, digest)


async def authenticate(
    uow: UnitOfWork,
    tenant_id: str,
    client_id: object,
    client_secret: object,
    grant_type: str | None,
) -> Application:
    if not isinstance(client_id, str) or not client_id:
        raise InvalidRequest("Missing required parameter: client_id")
    app = await uow.applications.get(tenant_id, client_id)
    if app is None:
        raise AccessDenied("Unauthorized")
    must_prove = app.app_type in CONFIDENTIAL_TYPES or client_secret is not None
    if must_prove and not (
        isinstance(client_secret, str)
        and _secret_matches(client_secret, app.secret_hash, app.secret_key_id)
    ):
        raise AccessDenied("Unauthorized")
    if grant_type is not None and grant_type not in app.grant_types:
        raise UnauthorizedClient(f"Grant type '{grant_type}' not allowed for the client.")
    return app
