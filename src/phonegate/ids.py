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


LOG_ID_TIME_DIGITS = 20


def log_id() -> str:
    # Time-ordered so log pages and log streams read events in order: 20 decimal digits of
    # nanoseconds since the epoch, then 16 hex characters of randomness.
    import time

    return f"{time.time_ns():0{LOG_ID_TIME_DIGITS}d}{secrets.token_hex(8)}"


def log_id_at(nanoseconds: int) -> str:
    """The smallest log id of a moment: events before it sort before it (settle windows)."""
    return f"{nanoseconds:0{LOG_ID_TIME_DIGITS}d}"
