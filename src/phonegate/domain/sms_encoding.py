"""How an SMS text travels: its encoding and how many segments it is billed as.

A text made only of characters of the GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1,
formerly GSM 03.38) goes as GSM-7: 160 septets in one message. Characters of its extension table
(§6.2.1.1: form feed, ``^ { } \\ [ ~ ] |`` and ``€``) take two septets, an escape and the
character. Any other character makes the whole text UCS-2 (in practice UTF-16, so a character
outside the Basic Multilingual Plane, such as an emoji, takes two code units): 70 in one message.
A longer text is concatenated (3GPP TS 23.040 §9.2.3.24.1): the user data header leaves 153
septets or 67 code units per segment, and a segment never ends between the two halves of an
escape pair or a surrogate pair, so such a segment carries one unit less.

National language shift tables (TS 23.038 §6.2.1.2) are not used: most routes do not support
them. An empty text is counted as one segment, as one message is still sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from phonegate.gsm7 import SEPTETS as _SEPTETS

Encoding = Literal["GSM-7", "UCS-2"]

# (units in a single message, units per segment of a concatenated one)
_CAPACITY: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True, slots=True)
class SmsInfo:
    encoding: Encoding
    segments: int
    characters: int  # GSM-7 septets or UTF-16 code units, as the network counts them
    per_segment: int  # what each segment can carry: 160/70 alone, 153/67 concatenated


def analyse(text: str) -> SmsInfo:
    """The encoding, size and segment count of ``text`` sent as one SMS."""
    encoding: Encoding
    if all(ch in _SEPTETS for ch in text):
        encoding, units = "GSM-7", [_SEPTETS[ch] for ch in text]
    else:
        encoding, units = "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    single, per_segment = _CAPACITY[encoding]
    characters = sum(units)
    if characters <= single:
        return SmsInfo(encoding, 1, characters, single)
    return SmsInfo(encoding, _concatenated_segments(units, per_segment), characters, per_segment)


def _concatenated_segments(units: list[int], per_segment: int) -> int:
    segments, used = 1, 0
    for width in units:
        if used + width > per_segment:  # a pair that does not fit starts the next segment whole
            segments, used = segments + 1, 0
        used += width
    return segments
