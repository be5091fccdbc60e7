"""The country picker of phone enrollment: every region phonenumbers knows with its calling
code, named in the page's language where phonenumbers has the name (else in English), and
a default region guessed from the browser's language.

phonenumbers is otherwise imported only by ``phonegate.phone``; this list belongs there
once that module offers it (see the lead's notes)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA

# The usual country of a language, for an Accept-Language tag without a region.
LIKELY_REGIONS = {
    "en": "US", "es": "ES", "fr": "FR", "de": "DE", "pt": "BR", "it": "IT",
    "nl": "NL", "ja": "JP", "zh": "CN", "ko": "KR", "ar": "SA", "hi": "IN",
}  # fmt: skip
DEFAULT_REGION = "US"
# Regions with a calling code that phonenumbers' locale data does not name.
UNNAMED = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


@dataclass(frozen=True, slots=True)
class Country:
    region: str  # ISO 3166-1 alpha-2
    name: str
    calling_code: int


def _name(region: str, language: str) -> str:
    names = LOCALE_DATA.get(region, {})
    for lang in (language, "en"):
        name = names.get(lang, "")
        if name.startswith("*"):  # phonenumbers' pointer to another language's entry
            name = names.get(name[1:], "")
        if name:
            return str(name)
    return UNNAMED.get(region, region)


def _sort_key(country: Country) -> tuple[str, str]:
    # Accents do not move a name ("Åland" sorts with the A's).
    plain = unicodedata.normalize("NFKD", country.name)
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold(), country.region


@cache
def countries(locale: str) -> tuple[Country, ...]:
    language = locale.split("-", 1)[0]
    found = [
        Country(region, _name(region, language), phonenumbers.country_code_for_region(region))
        for region in phonenumbers.SUPPORTED_REGIONS
    ]
    return tuple(sorted(found, key=_sort_key))


def default_region(tags: Sequence[str]) -> str:
    """The region of the first language tag (en-GB → GB), else its language's usual one."""
    for tag in tags:
        language, *rest = tag.replace("_", "-").split("-")
        for part in rest:
            if len(part) == 2 and part.upper() in phonenumbers.SUPPORTED_REGIONS:
                return part.upper()
        if language.lower() in LIKELY_REGIONS:
            return LIKELY_REGIONS[language.lower()]
    return DEFAULT_REGION


def international(region: str, national: str) -> str:
    """The number as the domain takes it: typed in full (+… or 00…), or the national
    number after the selected country's calling code."""
    typed = national.strip()
    if typed.startswith(("+", "00")) or region not in phonenumbers.SUPPORTED_REGIONS:
        return typed
    return f"+{phonenumbers.country_code_for_region(region)} {typed}"
