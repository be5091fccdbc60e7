"""The GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1, formerly GSM 03.38) and its extension
table (§6.2.1.1): which characters an SMS can carry as GSM-7, and how many septets each takes.

A leaf module: it imports nothing from phonegate, so the domain (segment counting) and the
providers (Vonage's ``type=text``) share one table without depending on each other.
"""

from __future__ import annotations

from collections.abc import Mapping

# §6.2.1 in code order, less 0x1B (between Ξ and Æ): the escape to the extension table.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# §6.2.1.1: each takes two septets, the escape and the character.
EXTENSION = "\f^{}\\[~]|€"

SEPTETS: Mapping[str, int] = {ch: 1 for ch in BASIC} | {ch: 2 for ch in EXTENSION}


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the default alphabet or its extension."""
    return all(ch in SEPTETS for ch in text)
