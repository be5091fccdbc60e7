"""Reading the dashboard's plain HTML forms (``application/x-www-form-urlencoded``)."""

from __future__ import annotations

from collections.abc import Mapping

from phonegate.web.login.flow import form_text as text

__all__ = ["filled", "flag", "picked", "text"]


def flag(form: Mapping[str, object], name: str) -> bool:
    """A checkbox: present (``on``) when ticked, absent when not."""
    return text(form, name, 8) in ("on", "true", "1")


def picked(form: Mapping[str, object], name: str, limit: int = 64) -> list[str]:
    """The ticked values of a group of checkboxes sharing ``name``."""
    value = form.get(name, [])
    values = value if isinstance(value, list) else [value]
    return [v[:limit] for v in values if isinstance(v, str) and v]


def filled(form: Mapping[str, object], *names: str, limit: int = 1024) -> dict[str, str]:
    """The named fields that were filled in: an empty field keeps the stored value."""
    found = {name: text(form, name, limit).strip() for name in names}
    return {name: value for name, value in found.items() if value}
