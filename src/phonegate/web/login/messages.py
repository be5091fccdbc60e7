"""What a page says about a refused step: the error's code looked up in the page strings
(``error.<code>``), Auth0's Universal Login wording where Auth0 has one, else the error's
own description (safe to show by design, see ``phonegate.errors``)."""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup, escape

from phonegate.errors import PhonegateError
from phonegate.web.login.i18n import Translator

# Domain codes that share one text.
ALIASES = {
    "unauthorized": "user_blocked",
    "expired_token": "code_expired",
    "too_many_calls": "too_many_messages",
    "too_many_sms_to_number": "too_many_messages",
    "too_many_sms_to_prefix": "too_many_messages",
    "too_many_sms_per_tenant": "too_many_messages",
}


def describe(
    t: Translator,
    exc: PhonegateError,
    *,
    overrides: Mapping[str, str] | None = None,
    **values: object,
) -> Markup:
    for name in (exc.error_code, exc.error):
        if not name:
            continue
        key = (overrides or {}).get(name) or ALIASES.get(name, name)
        if t.has(f"error.{key}"):
            return t(f"error.{key}", **values)
    return escape(exc.description)
