"""Password hashing with argon2id, off the event loop (hashing is deliberately slow)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# A fixed hash verified for unknown users so "no such user" costs what "wrong password" does.
_DUMMY_PASSWORD = "phonegate-timing-equaliser"  # noqa: S105


class Argon2Passwords:
    def __init__(
        self, time_cost: int = 2, memory_cost: int = 19 * 1024, parallelism: int = 1
    ) -> None:
        # OWASP's argon2id baseline (19 MiB, t=2, p=1).
        self._hasher = _Argon2(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        self._dummy = self._hasher.hash(_DUMMY_PASSWORD)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether a stored hash was made with other parameters than today's."""
        try:
            return bool(password_hash) and self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return False

    async def verify(self, password_hash: str, password: str) -> bool:
        def _check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy, password) and bool(
                    password_hash
                )
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(_check)
