"""One-time codes and recovery codes: generation, keyed hashing, rotation, checks."""

from __future__ import annotations

import re
import secrets
from collections import Counter

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from phonegate import otp
from phonegate.keys import KeyRing

SIX_DIGITS = st.from_regex(r"[0-9]{6}", fullmatch=True)


def ring(*keys: bytes) -> KeyRing:
    return KeyRing(list(keys))


KEY_A = b"A" * 32
KEY_B = b"B" * 32
KEYS = ring(KEY_A)


def test_new_code_is_six_ascii_digits() -> None:
    for _ in range(1000):
        code = otp.new_code()
        assert re.fullmatch(r"[0-9]{6}", code), code


def test_new_code_draws_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # The digits come from the CSPRNG in ``secrets``, not from ``random``.
    picks: list[str] = []

    def fake_choice(seq: str) -> str:
        picks.append(seq)
        return seq[7]

    monkeypatch.setattr(secrets, "choice", fake_choice)
    assert otp.new_code() == "777777"
    assert picks == ["0123456789"] * 6


def test_new_code_digits_are_roughly_uniform_in_every_position() -> None:
    n = 20_000
    codes = [otp.new_code() for _ in range(n)]
    assert len(set(codes)) > n * 0.9  # 10^6 possibilities: collisions are rare
    expected = n / 10  # 2000 per digit per position; sd ~ 42, so ±300 is > 7 sd
    for position in range(otp.CODE_DIGITS):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set("0123456789"), (position, counts)
        for digit, count in counts.items():
            assert abs(count - expected) < 300, (position, digit, count)


def test_hash_and_check_round_trip() -> None:
    code = otp.new_code()
    stored = otp.hash_code(KEYS, code, "ch_1")
    assert stored.key_id == KEYS.current_id
    assert code not in stored.digest
    assert otp.check_code(KEYS, code, "ch_1", stored)


def test_equal_codes_hash_differently_per_challenge() -> None:
    assert (
        otp.hash_code(KEYS, "123456", "ch_1").digest != otp.hash_code(KEYS, "123456", "ch_2").digest
    )


def test_wrong_code_fails() -> None:
    stored = otp.hash_code(KEYS, "123456", "ch_1")
    assert not otp.check_code(KEYS, "123457", "ch_1", stored)
    assert not otp.check_code(KEYS, "654321", "ch_1", stored)


def test_code_bound_to_another_challenge_fails() -> None:
    stored = otp.hash_code(KEYS, "123456", "ch_1")
    assert not otp.check_code(KEYS, "123456", "ch_2", stored)


@pytest.mark.parametrize("candidate", ["12345", "1234567", "abcdef", "", " 12345", "12345 "])
def test_malformed_candidates_fail(candidate: str) -> None:
    stored = otp.hash_code(KEYS, "123456", "ch_1")
    assert not otp.check_code(KEYS, candidate, "ch_1", stored)


def test_malformed_candidate_fails_even_when_its_hash_was_stored() -> None:
    # Only a well-formed code may ever pass, whatever the stored hash was computed from.
    # Codes are 4 to 10 ASCII digits (a tenant chooses its length).
    for bad in ("123", "12345678901", "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        stored = otp.hash_code(KEYS, bad, "ch_1")
        assert not otp.check_code(KEYS, bad, "ch_1", stored), bad


def test_rotation_old_key_verifies_new_key_signs() -> None:
    old = ring(KEY_A)
    stored = otp.hash_code(old, "424242", "ch_1")
    rotated = ring(KEY_B, KEY_A)
    assert otp.check_code(rotated, "424242", "ch_1", stored)
    assert not otp.check_code(rotated, "424243", "ch_1", stored)
    fresh = otp.hash_code(rotated, "424242", "ch_1")
    assert fresh.key_id == rotated.current_id
    assert fresh.key_id != old.current_id
    assert fresh.digest != stored.digest
    assert otp.check_code(rotated, "424242", "ch_1", fresh)


def test_key_removed_from_ring_no_longer_verifies() -> None:
    stored = otp.hash_code(ring(KEY_A), "424242", "ch_1")
    assert not otp.check_code(ring(KEY_B), "424242", "ch_1", stored)


def test_recovery_code_shape() -> None:
    for _ in range(200):
        code = otp.new_recovery_code()
        assert re.fullmatch(r"[A-Z0-9]{24}", code), code


def test_recovery_codes_are_not_repeated() -> None:
    codes = {otp.new_recovery_code() for _ in range(1000)}
    assert len(codes) == 1000


def test_recovery_code_round_trip_and_normalisation() -> None:
    code = otp.new_recovery_code()
    stored = otp.hash_recovery_code(code, "auth0|u1")
    assert code not in stored.digest
    assert otp.check_recovery_code(code, "auth0|u1", stored)
    grouped = " ".join(code[i : i + 4] for i in range(0, 24, 4))
    dashed = "-".join(code[i : i + 6] for i in range(0, 24, 6))
    for variant in (code.lower(), grouped, dashed.lower(), f"  {dashed}  "):
        assert otp.check_recovery_code(variant, "auth0|u1", stored), variant


def test_recovery_code_wrong_or_for_another_user_fails() -> None:
    code = otp.new_recovery_code()
    stored = otp.hash_recovery_code(code, "auth0|u1")
    other = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert not otp.check_recovery_code(other, "auth0|u1", stored)
    assert not otp.check_recovery_code(code[:-1], "auth0|u1", stored)
    assert not otp.check_recovery_code(code, "auth0|u2", stored)
    assert not otp.check_recovery_code("", "auth0|u1", stored)


def test_recovery_code_with_an_unknown_hash_id_fails() -> None:
    code = otp.new_recovery_code()
    stored = otp.hash_recovery_code(code, "auth0|u1")
    assert not otp.check_recovery_code(
        code, "auth0|u1", otp.HashedSecret(stored.digest, KEYS.current_id)
    )


def test_recovery_code_hash_is_not_a_code_hash() -> None:
    # Distinct schemes: a recovery-code hash never checks as a one-time code.
    stored = otp.hash_recovery_code("123456", "x")
    assert not otp.check_code(KEYS, "123456", "x", stored)


RANDOM_RING = ring(secrets.token_bytes(32))


@given(code=SIX_DIGITS, other=SIX_DIGITS, binding=st.text(min_size=1, max_size=40))
def test_property_only_the_hashed_code_checks(code: str, other: str, binding: str) -> None:
    assume(other != code)
    stored = otp.hash_code(RANDOM_RING, code, binding)
    assert otp.check_code(RANDOM_RING, code, binding, stored)
    assert not otp.check_code(RANDOM_RING, other, binding, stored)
