"""Page strings of Universal Login, ``templates/pages/i18n/<locale>.json``, in the locales of
the built-in message texts, chosen the way message languages are (``domain.texts``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from markupsafe import Markup, escape

from phonegate.domain.texts import SUPPORTED_LOCALES, negotiate

FALLBACK = "en"
RTL_LOCALES = frozenset({"ar"})


@cache
def catalog(locale: str) -> dict[str, str]:
    path = files("phonegate") / "templates" / "pages" / "i18n" / f"{locale}.json"
    loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def page_locale(candidates: Sequence[str | None], default: str) -> str:
    """ui_locales, then Accept-Language, then the tenant's default language."""
    fallback = negotiate([default], SUPPORTED_LOCALES, FALLBACK)
    return negotiate(candidates, SUPPORTED_LOCALES, fallback)


@dataclass(frozen=True, slots=True)
class Translator:
    locale: str

    @property
    def direction(self) -> str:
        return "rtl" if self.locale in RTL_LOCALES else "ltr"

    def has(self, key: str) -> bool:
        return key in catalog(FALLBACK)

    def __call__(self, key: str, **values: Any) -> Markup:
        """The string, escaped, with ``{name}`` placeholders filled (values are escaped
        unless they are Markup); English when the locale lacks it."""
        text = catalog(self.locale).get(key) or catalog(FALLBACK).get(key) or key
        return escape(text).format(**values)
