"""CSRF protection of the dashboard's forms: a synchronizer token in a hidden field of every
form, on top of the SameSite=Strict cookies. A signed-in page's token is derived from its
session; the sign-in form's from a random nonce in a cookie of its own, so another site
cannot sign a browser in to an account of its choosing either."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from phonegate.keys import KeyRing

FIELD = "csrf"
SIGN_IN_COOKIE = "phonegate_admin_signin"
SIGN_IN_SECONDS = 3600


class CsrfRefused(Exception):
    """A form that did not come from a dashboard page of this browser."""


def session_token(keys: KeyRing, session_id: str) -> str:
    return keys.mac("admin-csrf", session_id)


def sign_in_nonce() -> str:
    return secrets.token_urlsafe(16)


def sign_in_token(keys: KeyRing, nonce: str) -> str:
    return keys.mac("admin-sign-in-csrf", nonce)


def check(expected: str, form: Mapping[str, object]) -> None:
    candidate = form.get(FIELD)
    if not isinstance(candidate, str) or not hmac.compare_digest(expected, candidate[:128]):
        raise CsrfRefused
