"""Server keys: keyed hashing and authenticated encryption, both rotatable.

The first key signs and encrypts; every key still verifies and decrypts, so an operator
rotates by putting a new key in front and dropping the old one once its data has aged out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyRing:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one server key is required")
        if any(len(k) < 32 for k in keys):
            raise ValueError("server keys must be at least 32 bytes")
        self._keys = list(keys)
        self._ids = [hashlib.sha256(b"kid:" + k).hexdigest()[:8] for k in keys]
        self._fernets = [
            Fernet(base64.urlsafe_b64encode(self._derive(k, b"encrypt"))) for k in keys
        ]
        self._fernet = MultiFernet(self._fernets)

    @staticmethod
    def _derive(key: bytes, purpose: bytes) -> bytes:
        return hmac.new(key, b"phonegate:" + purpose, hashlib.sha256).digest()

    @property
    def current_id(self) -> str:
        return self._ids[0]

    def mac(self, purpose: str, value: str, key_id: str | None = None) -> str:
        """HMAC-SHA256 of ``value`` under the key ``key_id`` (default: current), hex."""
        index = self._ids.index(key_id) if key_id else 0
        subkey = self._derive(self._keys[index], purpose.encode())
        return hmac.new(subkey, value.encode(), hashlib.sha256).hexdigest()

    def has_key(self, key_id: str) -> bool:
        return key_id in self._ids

    def verify_mac(self, purpose: str, value: str, key_id: str, expected: str) -> bool:
        if not self.has_key(key_id):
            return False
        return hmac.compare_digest(self.mac(purpose, value, key_id), expected)

    def lookup_hash(self, purpose: str, value: str) -> str:
        """A hash for finding a row by a secret (oob_code); under the current key only."""
        return self.mac(purpose, value)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str, ttl: int | None = None) -> str | None:
        try:
            return self._fernet.decrypt(token.encode(), ttl=ttl).decode()
        except (InvalidToken, ValueError):
            return None

    def rewrap(self, token: str) -> str | None:
        """The token re-encrypted under the current key when an older key encrypted it;
        None when it already uses the current key or no key can read it."""
        try:
            self._fernets[0].decrypt(token.encode())
            return None
        except (InvalidToken, ValueError):
            pass
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None


def parse_keys(raw: str) -> list[bytes]:
    keys: list[bytes] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            # Strict: a key with characters outside URL-safe base64 is raw text, used as typed
            # (a lenient decoder would silently drop those characters).
            keys.append(
                base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
            )
        except ValueError:
            keys.append(part.encode())
    return keys


def load_or_create_keyfile(path: Path) -> list[bytes]:
    """Development convenience: a key generated once and kept beside the database."""
    if path.exists():
        return parse_keys(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return parse_keys(key)
