"""Tokens: RS256 access/ID tokens with a per-tenant JWKS, and sealed mfa_tokens.

The mfa_token is opaque to clients (as Auth0's): the first-factor transaction sealed with the
server key (authenticated encryption), bound to tenant, user, client, audience and scope, and
expiring on its own.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from phonegate.errors import ExpiredToken, InvalidGrant, InvalidToken
from phonegate.keys import KeyRing

MFA_TOKEN_PREFIX = "pgmfa."  # noqa: S105 - a format prefix


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk


def generate_signing_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid=secrets.token_urlsafe(16), private_key=key)


def export_private_key(key: SigningKey, keys: KeyRing) -> str:
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return keys.encrypt(pem)


def import_private_key(kid: str, encrypted_pem: str, keys: KeyRing) -> SigningKey:
    pem = keys.decrypt(encrypted_pem)
    if pem is None:
        raise RuntimeError("a signing key cannot be decrypted with the configured server keys")
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return SigningKey(kid=kid, private_key=private)


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def token_kid(token: str) -> str | None:
    """The kid a JWT names, without trusting anything else in it."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


def verify(
    token: str, keys: list[SigningKey], *, audiences: list[str] | None = None
) -> dict[str, Any]:
    """Verify signature, expiry and (optionally) audience; raise InvalidToken otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("Bad token.") from None
    key = next((k for k in keys if k.kid == header.get("kid")), None)
    if key is None or header.get("alg") != "RS256":
        raise InvalidToken("Bad token.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=["RS256"],
            audience=audiences,
            options={"verify_aud": audiences is not None, "require": ["exp", "iat", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("Expired token.") from None
    except jwt.PyJWTError:
        raise InvalidToken("Bad token.") from None
    return claims


@dataclass(frozen=True, slots=True)
class MfaTransaction:
    tenant_id: str
    user_id: str
    client_id: str
    audience: str
    scope: str
    realm: str | None
    issued_at: float
    expires_at: float


def seal_mfa_token(txn: MfaTransaction, keys: KeyRing) -> str:
    return MFA_TOKEN_PREFIX + keys.encrypt(json.dumps(asdict(txn), separators=(",", ":")))


def open_mfa_token(token: str | None, keys: KeyRing, now: datetime) -> MfaTransaction:
    if not token or not token.startswith(MFA_TOKEN_PREFIX) or len(token) > 4096:
        raise InvalidGrant("Malformed mfa_token")
    plain = keys.decrypt(token[len(MFA_TOKEN_PREFIX) :])
    if plain is None:
        raise InvalidGrant("Malformed mfa_token")
    try:
        txn = MfaTransaction(**json.loads(plain))
    except (TypeError, ValueError):
        raise InvalidGrant("Malformed mfa_token") from None
    if now.timestamp() >= txn.expires_at:
        raise ExpiredToken("mfa_token is expired")
    return txn


def token_response(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    audience: str,
    scope: str,
    key: SigningKey,
    now: datetime,
    ttl: int,
    id_claims: dict[str, Any] | None = None,
    extra_audience: str | None = None,
) -> dict[str, Any]:
    """An Auth0-shaped token response: access token always, ID token when ``openid``."""
    iat = int(now.timestamp())
    aud: str | list[str] = (
        [audience, extra_audience] if extra_audience and extra_audience != audience else audience
    )
    access = sign(
        {
            "iss": issuer,
            "sub": subject,
            "aud": aud,
            "iat": iat,
            "exp": iat + ttl,
            "scope": scope,
            "azp": client_id,
        },
        key,
    )
    body: dict[str, Any] = {"access_token": access, "expires_in": ttl, "token_type": "Bearer"}
    if scope:
        body["scope"] = scope
    if id_claims is not None and "openid" in scope.split():
        body["id_token"] = sign(
            {
                "iss": issuer,
                "sub": subject,
                "aud": client_id,
                "iat": iat,
                "exp": iat + 36000,
                **id_claims,
            },
            key,
        )
    return body


def internal_management_token(
    *, issuer: str, subject: str, client_id: str, key: SigningKey, ttl: int, scopes: Sequence[str]
) -> str:
    """A short-lived Management API token phonegate signs for its own callers (the CLI's
    ``phonegate api``, the dashboard), so they go through exactly the API's checks. Dated by
    the wall clock: verification checks it against the wall clock, whatever clock a server
    or a test runs on."""
    host = issuer.split("://", 1)[1].rstrip("/")
    return str(
        token_response(
            issuer=issuer,
            subject=subject,
            client_id=client_id,
            audience=f"https://{host}/api/v2/",
            scope=" ".join(scopes),
            key=key,
            now=datetime.now(UTC),
            ttl=ttl,
        )["access_token"]
    )
