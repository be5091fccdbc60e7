"""Identifier formats, in Auth0's shapes where clients may look at them."""

from __future__ import annotations

import secrets
import string

_URLSAFE = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_URLSAFE) for _ in range(length))


def device_id() -> str:
    return "dev_" + random_token(16)


def user_id() -> str:
    return "auth0|" + secrets.token_hex(12)


def client_id() -> str:
    return random_token(32)


def client_secret() -> str:
    return secrets.token_urlsafe(48)


def prefixed(prefix: str, length: int = 22) -> str:
    return f"{prefix}_{random_token(length)}"


def log_id() -> str:
    # Time-ordered so log pages sort stably: 12 hex chars of nanoseconds, then randomness.
    import time

    return f"{time.time_ns():020d}{secrets.token_hex(8)}"
