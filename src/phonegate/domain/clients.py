"""Applications (OAuth clients): authentication at the token endpoint and grant checks."""

from __future__ import annotations

from phonegate.domain.models import Application
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import AccessDenied, InvalidRequest, UnauthorizedClient
from phonegate.keys import KeyRing

GRANT_PASSWORD = "password"  # noqa: S105 - a grant type name
GRANT_PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"  # noqa: S105
GRANT_MFA_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
GRANT_MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
GRANT_MFA_RECOVERY = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
CONFIDENTIAL_TYPES = ("regular_web", "non_interactive")
_SECRET_PURPOSE = "client-secret"  # noqa: S105 - an HMAC label


def hash_secret(keys: KeyRing, secret: str) -> tuple[str, str]:
    # Client secrets are long random strings, so a keyed hash suffices (no argon2 cost on
    # every token request); the key id lets the server key rotate.
    return keys.mac(_SECRET_PURPOSE, secret), keys.current_id


async def authenticate(
    uow: UnitOfWork,
    keys: KeyRing,
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
        and keys.verify_mac(_SECRET_PURPOSE, client_secret, app.secret_key_id, app.secret_hash)
    ):
        raise AccessDenied("Unauthorized")
    if grant_type is not None and grant_type not in app.grant_types:
        raise UnauthorizedClient(f"Grant type '{grant_type}' not allowed for the client.")
    return app
