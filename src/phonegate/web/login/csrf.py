"""CSRF protection of the login forms: a synchronizer token bound to the login
transaction (``domain.authorization.csrf_token``) in a hidden field of every form, on top
of the SameSite=Lax transaction cookie."""

from __future__ import annotations

from collections.abc import Mapping

from phonegate.domain.authorization import LoginTransaction, StepError, csrf_matches
from phonegate.keys import KeyRing

FIELD = "csrf"


def check_csrf(txn: LoginTransaction, keys: KeyRing, form: Mapping[str, object]) -> None:
    if not csrf_matches(txn, keys, form.get(FIELD)):
        raise StepError("csrf", "The form did not come from this login page.", status=403)
