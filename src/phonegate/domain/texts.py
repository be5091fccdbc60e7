"""Built-in message texts and the choice of a message's language.

The texts ship as Liquid files, ``templates/messages/<type>/<channel>.<locale>.liquid``, one per
Auth0 Branding phone template type (``otp_verify``, ``otp_enroll``, ``change_password``,
``blocked_account``, ``password_breach``) by channel (``body.text`` is ``sms``, ``body.voice`` is
``voice``) by locale. English is Auth0's default body, word for word.

A message's language is the first of these that phonegate has a text for: the OIDC
``ui_locales`` parameter, Auth0's ``x-request-language`` header, the Accept-Language header
(RFC 9110 §12.5.4), the user's stored locale, and last the tenant's default. Tags match
case-insensitively, ``_`` or ``-`` alike, exactly or else by base language (``pt-BR`` → ``pt``,
and ``pt-PT`` → ``pt-BR`` where only that is offered).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import cache
from importlib.resources import files
from typing import Literal, get_args

from phonegate.domain.models import CHANNELS as CHANNELS

MessageType = Literal[
    "otp_enroll", "otp_verify", "change_password", "blocked_account", "password_breach"
]
MESSAGE_TYPES: tuple[MessageType, ...] = get_args(MessageType)
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en", "es", "fr", "de", "pt", "it", "nl", "ja", "zh", "ko", "ar", "hi"
)  # fmt: skip
MAX_ACCEPT_LANGUAGE_TAGS = 20

# RFC 9110 §12.5.4: a language-range (RFC 4647 §2.1; "*" left out, as it names no language)
# then an optional weight, whose q has at most three decimals and is at most 1.
_LANGUAGE_RANGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_WEIGHT = re.compile(r"[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


def _normalise(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()


def _base(tag: str) -> str:
    return tag.split("-", 1)[0]


def _match(tag: str, available: Collection[str]) -> str | None:
    """The available locale (as spelled there) for one tag: exact, then by base language."""
    wanted = _normalise(tag)
    if not wanted:
        return None
    by_tag = {_normalise(locale): locale for locale in sorted(available)}
    if wanted in by_tag:
        return by_tag[wanted]
    base = _base(wanted)
    if base in by_tag:
        return by_tag[base]
    # No locale for the bare language: take a sibling region ("pt-PT" when only "pt-BR" exists).
    return next((locale for tag_, locale in by_tag.items() if _base(tag_) == base), None)


def negotiate(candidates: Sequence[str | None], available: Collection[str], default: str) -> str:
    """The first candidate, in order, that one of ``available`` serves; else ``default``.

    A candidate may hold several space-separated tags (OIDC ``ui_locales``); ``None`` and empty
    candidates are skipped, so callers can pass headers that were absent.
    """
    for candidate in candidates:
        for tag in (candidate or "").split():
            found = _match(tag, available)
            if found is not None:
                return found
    return default


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most preferred first (RFC 9110 §12.5.4).

    Equal weights keep the header's order; ``q=0`` (not acceptable) and ``*`` (any language, which
    says nothing about which) are dropped, as are malformed parts and repeats. At most
    ``MAX_ACCEPT_LANGUAGE_TAGS`` tags are returned. Never raises.
    """
    weighted: list[tuple[float, str]] = []
    for part in (header or "").split(","):
        tag, _, params = part.partition(";")
        tag = tag.strip()
        if not _LANGUAGE_RANGE.fullmatch(tag):
            continue
        quality = 1.0
        if params.strip():
            weight = _WEIGHT.fullmatch(params.strip())
            if weight is None:
                continue
            quality = float(weight.group(1))
        if quality > 0:
            weighted.append((quality, tag))
    weighted.sort(key=lambda item: -item[0])  # stable: ties keep the header's order
    tags: list[str] = []
    seen: set[str] = set()
    for _, tag in weighted:
        if tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return tags[:MAX_ACCEPT_LANGUAGE_TAGS]


def builtin_template(message_type: str, channel: str, locale: str) -> str | None:
    """phonegate's own text for a message in the shipped locale that best matches ``locale``.

    ``None`` when the type or channel is unknown or no shipped locale matches, so the caller
    falls back (to the tenant default's text, typically).
    """
    shipped = _match(locale, SUPPORTED_LOCALES)
    if message_type not in MESSAGE_TYPES or channel not in CHANNELS or shipped is None:
        return None
    return _load(message_type, channel, shipped)


@cache  # keyed by shipped names only, so at most 120 entries
def _load(message_type: str, channel: str, locale: str) -> str:
    path = (
        files("phonegate") / "templates" / "messages" / message_type / f"{channel}.{locale}.liquid"
    )
    # An editor's final newline must not change the text that is sent.
    return path.read_text(encoding="utf-8").removesuffix("\n")
