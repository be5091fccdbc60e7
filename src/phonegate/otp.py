"""One-time codes and recovery codes: generation, hashing, constant-time checks.

Nothing here is stored in clear. A six-digit code is guessable offline from a bare hash, so it
is kept as HMAC-SHA256 under the current server key plus that key's id: a rotated-out key
still verifies codes already on their way, and codes die within minutes, so old keys can be
dropped soon after a rotation. A recovery code carries 124 bits of randomness and lives for
years; it is kept as a plain SHA-256 bound to its user, so rotating the server key never
locks anyone out of their recovery code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

from phonegate.keys import KeyRing

CODE_DIGITS = 6
# A tenant may choose its code length (Guardian phone settings); the MAC binds the exact code.
MIN_DIGITS, MAX_DIGITS = 4, 10
RECOVERY_CODE_LENGTH = 24
_RECOVERY_ALPHABET = string.ascii_uppercase + string.digits
_OTP_PURPOSE = "otp"
RECOVERY_HASH_ID = "sha256"


@dataclass(frozen=True, slots=True)
class HashedSecret:
    digest: str
    key_id: str


def new_code(digits: int = CODE_DIGITS) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(digits))


def new_recovery_code() -> str:
    return "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def _bind(code: str, binding: str) -> str:
    # Binding the hash to its challenge means one leaked hash table row cannot be replayed
    # against another challenge, and equal codes never hash alike.
    return f"{binding}:{code}"


def hash_code(keys: KeyRing, code: str, binding: str) -> HashedSecret:
    return HashedSecret(keys.mac(_OTP_PURPOSE, _bind(code, binding)), keys.current_id)


def check_code(keys: KeyRing, candidate: str, binding: str, stored: HashedSecret) -> bool:
    # Always compute the MAC, even for malformed input, so timing says nothing.
    well_formed = (
        MIN_DIGITS <= len(candidate) <= MAX_DIGITS and candidate.isascii() and candidate.isdigit()
    )
    ok = keys.verify_mac(_OTP_PURPOSE, _bind(candidate, binding), stored.key_id, stored.digest)
    return ok and well_formed


def normalize_recovery_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hash_recovery_code(code: str, binding: str) -> HashedSecret:
    return HashedSecret(_sha256(_bind(normalize_recovery_code(code), binding)), RECOVERY_HASH_ID)


def check_recovery_code(candidate: str, binding: str, stored: HashedSecret) -> bool:
    computed = _sha256(_bind(normalize_recovery_code(candidate), binding))
    return stored.key_id == RECOVERY_HASH_ID and hmac.compare_digest(computed, stored.digest)
