"""The dashboard's pages: Jinja2 templates from ``templates/admin``, which build on the
layout and form macros of ``templates/pages`` (autoescaped, strict about missing values),
sent with the login pages' security headers (never framed, never cached). They are in
English, as the Auth0 dashboard is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from phonegate.web.login.i18n import Translator
from phonegate.web.login.security import PAGE_HEADERS

ENGLISH = Translator("en")


def when(value: str | None) -> str:
    """An API time (ISO 8601, UTC) as people read it: ``2026-01-01 12:00:00 UTC``."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@cache
def environment() -> Environment:
    env = Environment(
        # The admin templates first; the shared layout and form macros after.
        loader=ChoiceLoader(
            [
                PackageLoader("phonegate", "templates/admin"),
                PackageLoader("phonegate", "templates/pages"),
            ]
        ),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["when"] = when
    return env


def render(template: str, brand: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    page = environment().get_template(template)
    html = page.render(t=ENGLISH, lang="en", dir="ltr", brand=brand, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
