"""Phone numbers: the only module that imports ``phonenumbers``.

Numbers are accepted in international form, validated as possible *and* valid for their
region, and normalised to E.164. Masking follows Auth0: every character but the last four,
``+`` included, becomes ``X``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

import phonenumbers

from phonegate.errors import InvalidPhoneNumber

_ALLOWED = re.compile(r"\+?[0-9 .()\-]*")


# Number types that cost the sender and pay the receiver: the targets of SMS pumping.
_PREMIUM_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST}
)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    region: str | None
    country_code: int
    premium: bool = False

    @property
    def masked(self) -> str:
        return mask(self.e164)


def parse(raw: object) -> PhoneNumber:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("phone_number is required and must be a string.")
    text = raw.strip()
    if len(text) > 32:
        raise InvalidPhoneNumber("The phone number is too long.")
    if not _ALLOWED.fullmatch(text):
        # phonenumbers would read vanity letters (1-800-FLOWERS) as digits; a number typed
        # for a code must be digits, with only spaces, dots, dashes and brackets between.
        raise InvalidPhoneNumber(
            "The phone number may contain only digits, a leading +, spaces, dots, dashes and brackets."
        )
    if not text.startswith("+"):
        # Auth0 expects E.164; "00" is the common international prefix people type instead.
        if text.startswith("00"):
            text = "+" + text[2:]
        else:
            raise InvalidPhoneNumber(
                "The phone number must be in international format, starting with + "
                "and the country calling code (E.164)."
            )
    return _parse_international(text)


# Every challenge parses its authenticator's stored number again; the answer is a frozen
# value of the text alone. Bounded, so numbers sent by anyone cannot grow it.
@lru_cache(maxsize=4096)
def _parse_international(text: str) -> PhoneNumber:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"The phone number could not be parsed: {exc._msg}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber("The phone number has the wrong length for its country.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("The phone number is not a valid number for its country.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    return PhoneNumber(
        e164=e164,
        region=region,
        country_code=int(number.country_code or 0),
        premium=phonenumbers.number_type(number) in _PREMIUM_TYPES,
    )


def mask(e164: str) -> str:
    if len(e164) <= 4:
        return "X" * len(e164)
    return "X" * (len(e164) - 4) + e164[-4:]


# -- the country picker of phone enrollment ----------------------------------------------
# Every region phonenumbers knows with its calling code, named in the page's language where
# phonenumbers has the name (else in English), and a default guessed from the browser.

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


@cache
def _country_names() -> dict[str, dict[str, str]]:
    # An extract of phonenumbers' geocoding data (scripts/country_names.py): importing that
    # data itself costs about 100 MB in every process.
    text = (files("phonegate") / "data" / "country_names.json").read_text(encoding="utf-8")
    names: dict[str, dict[str, str]] = json.loads(text)
    return names


def _name(region: str, language: str) -> str:
    names = _country_names().get(region, {})
    return names.get(language) or names.get("en") or UNNAMED.get(region, region)


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


def is_region(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 region phonenumbers has numbers for."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS
