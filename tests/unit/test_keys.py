"""Server keys: authenticated encryption, rotation, parsing and the development key file."""

from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

import pytest

from phonegate.keys import KeyRing, load_or_create_keyfile, parse_keys

OLD = secrets.token_bytes(32)
NEW = secrets.token_bytes(32)


def b64(key: bytes, *, padded: bool = True) -> str:
    text = base64.urlsafe_b64encode(key).decode()
    return text if padded else text.rstrip("=")


def test_encrypt_decrypt_round_trip() -> None:
    keys = KeyRing([NEW])
    token = keys.encrypt("hello, wörld")
    assert "hello" not in token
    assert keys.decrypt(token) == "hello, wörld"


def test_encryption_is_randomised() -> None:
    keys = KeyRing([NEW])
    assert keys.encrypt("same") != keys.encrypt("same")


def test_tampered_token_decrypts_to_none() -> None:
    keys = KeyRing([NEW])
    token = keys.encrypt("secret payload")
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    assert keys.decrypt(token[:middle] + flipped + token[middle + 1 :]) is None
    assert keys.decrypt(token[:-4]) is None
    assert keys.decrypt("") is None
    assert keys.decrypt("not a token at all") is None


def test_token_from_another_key_decrypts_to_none() -> None:
    assert KeyRing([OLD]).decrypt(KeyRing([NEW]).encrypt("x")) is None


def test_decrypt_with_rotated_ring() -> None:
    token = KeyRing([OLD]).encrypt("before rotation")
    rotated = KeyRing([NEW, OLD])
    assert rotated.decrypt(token) == "before rotation"
    # The new key encrypts: a ring that only holds the old key cannot read fresh tokens.
    fresh = rotated.encrypt("after rotation")
    assert KeyRing([OLD]).decrypt(fresh) is None
    assert KeyRing([NEW]).decrypt(fresh) == "after rotation"
    # Once the old key is dropped, its tokens are gone.
    assert KeyRing([NEW]).decrypt(token) is None


def test_key_ids_follow_the_first_key() -> None:
    assert KeyRing([NEW, OLD]).current_id == KeyRing([NEW]).current_id
    assert KeyRing([NEW]).current_id != KeyRing([OLD]).current_id


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_short_keys_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyRing([b"k" * length])
    with pytest.raises(ValueError, match="32 bytes"):
        KeyRing([NEW, b"k" * length])


def test_empty_ring_is_refused() -> None:
    with pytest.raises(ValueError):
        KeyRing([])


def test_parse_keys_base64_padded_and_unpadded() -> None:
    assert parse_keys(b64(NEW)) == [NEW]
    assert parse_keys(b64(NEW, padded=False)) == [NEW]
    assert parse_keys(f" {b64(NEW)} , {b64(OLD, padded=False)} ,, ") == [NEW, OLD]
    assert parse_keys("") == []
    assert parse_keys(" , ") == []


def test_parse_keys_raw_text_is_taken_verbatim() -> None:
    raw = "this is a raw key that is long enough!!"
    assert parse_keys(raw) == [raw.encode()]
    assert KeyRing(parse_keys(raw)).decrypt(KeyRing([raw.encode()]).encrypt("x")) == "x"


@pytest.mark.parametrize(
    "raw",
    [
        "a raw key!a raw key!a raw key!a raw key!",
        "correct horse battery staple: no base64 here",
        "pass phrase with spaces and a dot.",
    ],
)
def test_parse_keys_text_with_non_base64_characters_is_taken_verbatim(raw: str) -> None:
    # A key containing characters outside the URL-safe base64 alphabet cannot be base64: it
    # must be used as typed, never silently "decoded" with those characters dropped.
    assert parse_keys(raw) == [raw.encode()]


def test_keyfile_is_created_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_keyfile(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 1 and len(first[0]) == 32
    KeyRing(first)  # usable as a server key
    second = load_or_create_keyfile(path)
    assert second == first
    assert parse_keys(path.read_text()) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keyfiles_differ_between_installations(tmp_path: Path) -> None:
    assert load_or_create_keyfile(tmp_path / "a.key") != load_or_create_keyfile(tmp_path / "b.key")
