"""Phone numbers: the only module that imports ``phonenumbers``.

Numbers are accepted in international form, validated as possible *and* valid for their
region, and normalised to E.164. Masking follows Auth0: every character but the last four,
``+`` included, becomes ``X``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def is_region(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 region phonenumbers has numbers for."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS
