"""RS256 tokens (sign, verify, JWK) and sealed mfa_tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from phonegate import tokens
from phonegate.errors import ExpiredToken, InvalidGrant, InvalidToken
from phonegate.keys import KeyRing
from phonegate.tokens import MfaTransaction, SigningKey


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return tokens.generate_signing_key()


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return tokens.generate_signing_key()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "https://phonegate.test/",
        "sub": "auth0|abc",
        "aud": "https://api.example.com/",
        "iat": now,
        "exp": now + 600,
        "scope": "openid",
    }
    base.update(overrides)
    return base


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(header: dict[str, Any], payload: dict[str, Any], signer: bytes | None) -> str:
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    signature = (
        b64url(hmac.new(signer, signing_input.encode(), hashlib.sha256).digest())
        if signer is not None
        else ""
    )
    return signing_input + "." + signature


def test_sign_verify_round_trip(key: SigningKey) -> None:
    token = tokens.sign(claims(), key)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    got = tokens.verify(token, [key], audiences=["https://api.example.com/"])
    assert got["sub"] == "auth0|abc"
    assert got["aud"] == "https://api.example.com/"
    # Without audiences the audience is not checked.
    assert tokens.verify(token, [key])["scope"] == "openid"


def test_verify_picks_the_key_by_kid(key: SigningKey, other_key: SigningKey) -> None:
    token = tokens.sign(claims(), other_key)
    assert tokens.verify(token, [key, other_key])["sub"] == "auth0|abc"


def test_wrong_audience_is_refused(key: SigningKey) -> None:
    token = tokens.sign(claims(aud="https://other.example.com/"), key)
    with pytest.raises(InvalidToken):
        tokens.verify(token, [key], audiences=["https://api.example.com/"])


def test_expired_token_is_refused(key: SigningKey) -> None:
    now = int(time.time())
    token = tokens.sign(claims(iat=now - 3600, exp=now - 60), key)
    with pytest.raises(InvalidToken) as info:
        tokens.verify(token, [key])
    assert info.value.description == "Expired token."
    assert info.value.status == 401


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_token_missing_a_required_claim_is_refused(key: SigningKey, missing: str) -> None:
    body = claims()
    del body[missing]
    with pytest.raises(InvalidToken):
        tokens.verify(tokens.sign(body, key), [key])


def test_unknown_kid_is_refused(key: SigningKey, other_key: SigningKey) -> None:
    token = tokens.sign(claims(), other_key)
    with pytest.raises(InvalidToken):
        tokens.verify(token, [key])


def test_known_kid_but_another_keys_signature_is_refused(
    key: SigningKey, other_key: SigningKey
) -> None:
    impostor = SigningKey(kid=key.kid, private_key=other_key.private_key)
    token = tokens.sign(claims(), impostor)
    with pytest.raises(InvalidToken):
        tokens.verify(token, [key])


def test_tampered_payload_is_refused(key: SigningKey) -> None:
    header, _, signature = tokens.sign(claims(), key).split(".")
    payload = b64url(json.dumps(claims(sub="auth0|admin")).encode())
    with pytest.raises(InvalidToken):
        tokens.verify(f"{header}.{payload}.{signature}", [key])


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", "x" * 5000])
def test_garbage_is_refused(key: SigningKey, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify(garbage, [key])


def test_alg_none_is_refused(key: SigningKey) -> None:
    token = forge({"alg": "none", "typ": "JWT", "kid": key.kid}, claims(), None)
    with pytest.raises(InvalidToken):
        tokens.verify(token, [key])


def test_hs256_signed_with_the_public_key_is_refused(key: SigningKey) -> None:
    # The classic key-confusion attack: HMAC with the (public) PEM as the shared secret.
    pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    forged = forge(header, claims(), pem)
    assert jwt.get_unverified_header(forged)["alg"] == "HS256"
    with pytest.raises(InvalidToken):
        tokens.verify(forged, [key])
    with pytest.raises(InvalidToken):
        tokens.verify(forged, [key], audiences=["https://api.example.com/"])


def test_jwk_is_public_and_complete(key: SigningKey) -> None:
    jwk = key.jwk()
    assert jwk["kid"] == key.kid
    assert jwk["use"] == "sig"
    assert jwk["alg"] == "RS256"
    assert jwk["kty"] == "RSA"
    assert jwk["n"] and jwk["e"] == "AQAB"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk), jwk
    # A verifier holding only the JWK accepts our tokens.
    public = jwt.PyJWK(jwk).key
    token = tokens.sign(claims(), key)
    assert jwt.decode(token, public, algorithms=["RS256"], audience="https://api.example.com/")


def test_private_key_export_import_round_trip(key: SigningKey) -> None:
    ring = KeyRing([secrets.token_bytes(32)])
    sealed = tokens.export_private_key(key, ring)
    assert "PRIVATE KEY" not in sealed
    restored = tokens.import_private_key(key.kid, sealed, ring)
    assert tokens.verify(tokens.sign(claims(), restored), [key])["sub"] == "auth0|abc"
    with pytest.raises(RuntimeError):
        tokens.import_private_key(key.kid, sealed, KeyRing([secrets.token_bytes(32)]))


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RING = KeyRing([secrets.token_bytes(32)])


def txn(**overrides: Any) -> MfaTransaction:
    base = MfaTransaction(
        tenant_id="ten_1",
        user_id="auth0|abc",
        client_id="client-1",
        audience="https://api.example.com/",
        scope="openid profile",
        realm=None,
        issued_at=NOW.timestamp(),
        expires_at=(NOW + timedelta(minutes=10)).timestamp(),
    )
    return replace(base, **overrides)


def test_mfa_token_seal_open_round_trip() -> None:
    original = txn(realm="Username-Password-Authentication")
    token = tokens.seal_mfa_token(original, RING)
    assert token.startswith(tokens.MFA_TOKEN_PREFIX)
    assert "auth0|abc" not in token and "client-1" not in token
    assert tokens.open_mfa_token(token, RING, NOW) == original


def test_mfa_token_opens_after_key_rotation() -> None:
    old_key = secrets.token_bytes(32)
    token = tokens.seal_mfa_token(txn(), KeyRing([old_key]))
    rotated = KeyRing([secrets.token_bytes(32), old_key])
    assert tokens.open_mfa_token(token, rotated, NOW) == txn()


def assert_malformed(token: str | None, ring: KeyRing = RING) -> None:
    with pytest.raises(InvalidGrant) as info:
        tokens.open_mfa_token(token, ring, NOW)
    assert info.value.description == "Malformed mfa_token"
    assert info.value.error == "invalid_grant"


def test_tampered_mfa_token_is_malformed() -> None:
    token = tokens.seal_mfa_token(txn(), RING)
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    assert_malformed(token[:middle] + flipped + token[middle + 1 :])
    assert_malformed(token[:-5])
    assert_malformed(token[:middle] + "A" + token[middle:])


@pytest.mark.parametrize("token", [None, "", "pgmfa.", "not-ours", "pgmfa.x" * 1000])
def test_garbage_mfa_tokens_are_malformed(token: str | None) -> None:
    assert_malformed(token)


def test_mfa_token_without_prefix_is_malformed() -> None:
    token = tokens.seal_mfa_token(txn(), RING)
    assert_malformed(token[len(tokens.MFA_TOKEN_PREFIX) :])


def test_mfa_token_from_another_server_is_malformed() -> None:
    token = tokens.seal_mfa_token(txn(), KeyRing([secrets.token_bytes(32)]))
    assert_malformed(token)


def test_sealed_non_transaction_is_malformed() -> None:
    for plain in ('{"user_id": "x"}', "[]", "not json"):
        assert_malformed(tokens.MFA_TOKEN_PREFIX + RING.encrypt(plain))


def test_expired_mfa_token() -> None:
    token = tokens.seal_mfa_token(txn(), RING)
    assert tokens.open_mfa_token(token, RING, NOW + timedelta(minutes=9, seconds=59))
    for later in (timedelta(minutes=10), timedelta(days=1)):
        with pytest.raises(ExpiredToken) as info:
            tokens.open_mfa_token(token, RING, NOW + later)
        assert info.value.error == "expired_token"
        assert info.value.status == 403


def test_token_response_shape(key: SigningKey) -> None:
    body = tokens.token_response(
        issuer="https://phonegate.test/",
        subject="auth0|abc",
        client_id="client-1",
        audience="https://api.example.com/",
        scope="openid profile",
        key=key,
        now=datetime.now(UTC),
        ttl=600,
        id_claims={"email": "a@example.com"},
    )
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    access = tokens.verify(body["access_token"], [key], audiences=["https://api.example.com/"])
    assert access["azp"] == "client-1" and access["exp"] - access["iat"] == 600
    id_token = tokens.verify(body["id_token"], [key], audiences=["client-1"])
    assert id_token["email"] == "a@example.com"
