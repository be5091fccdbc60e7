"""Server-rendered pages: Jinja2 templates from ``templates/pages`` (autoescaped), given
the page's language, its direction and the translator ``t``."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from phonegate.web.login.i18n import Translator
from phonegate.web.login.security import PAGE_HEADERS


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("phonegate", "templates/pages"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    template: str,
    t: Translator,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    page = environment().get_template(template)
    html = page.render(t=t, lang=t.locale, dir=t.direction, **context)
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
