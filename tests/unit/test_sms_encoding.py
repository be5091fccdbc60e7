"""SMS encoding and segment counts (3GPP TS 23.038 alphabet, TS 23.040 concatenation)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonegate.domain.sms_encoding import SmsInfo, analyse

GSM_EXTENSION = "\f^{}\\[~]|€"


@pytest.mark.parametrize(
    "text",
    [
        "Your code is 123456",
        "é è ù ì ò à Ç Ø å Æ ß É Ä Ö Ñ Ü ä ö ñ ü",
        "Δ_ΦΓΛΩΠΨΣΘΞ @£$¥¤§¡¿",
        "line\nbreak\rreturn",
        "€ ^ { } \\ [ ~ ] |",
    ],
)
def test_gsm_7_texts(text: str) -> None:
    assert analyse(text).encoding == "GSM-7"


@pytest.mark.parametrize(
    "text",
    ["你好", "code 😀", "رمز التحقق", "सत्यापन", "ç", "á", "ê", "`", "tab\there", "\x1b"],
)
def test_ucs_2_texts(text: str) -> None:
    assert analyse(text).encoding == "UCS-2"


def test_empty_text_is_one_segment() -> None:
    assert analyse("") == SmsInfo("GSM-7", 1, 0, 160)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, SmsInfo("GSM-7", 1, 160, 160)),
        ("a" * 161, SmsInfo("GSM-7", 2, 161, 153)),
        ("a" * 306, SmsInfo("GSM-7", 2, 306, 153)),
        ("a" * 307, SmsInfo("GSM-7", 3, 307, 153)),
        ("你" * 70, SmsInfo("UCS-2", 1, 70, 70)),
        ("你" * 71, SmsInfo("UCS-2", 2, 71, 67)),
        ("你" * 134, SmsInfo("UCS-2", 2, 134, 67)),
        ("你" * 135, SmsInfo("UCS-2", 3, 135, 67)),
    ],
)
def test_segment_boundaries(text: str, expected: SmsInfo) -> None:
    assert analyse(text) == expected


def test_extension_characters_count_double() -> None:
    assert analyse("€" * 80) == SmsInfo("GSM-7", 1, 160, 160)
    assert analyse("€" * 81) == SmsInfo("GSM-7", 2, 162, 153)
    assert analyse("a" * 159 + "{") == SmsInfo("GSM-7", 2, 161, 153)


def test_escape_pair_is_not_split_across_segments() -> None:
    # 152 + 2 + 152 = 306 septets would fill two segments exactly, but the € cannot start at
    # septet 153, so it opens the second segment and one septet spills into a third.
    assert analyse("a" * 152 + "€" + "a" * 152) == SmsInfo("GSM-7", 3, 306, 153)
    assert analyse("a" * 151 + "€" + "a" * 153) == SmsInfo("GSM-7", 2, 306, 153)


def test_astral_characters_count_two_code_units() -> None:
    assert analyse("😀" * 35) == SmsInfo("UCS-2", 1, 70, 70)
    assert analyse("😀" * 36) == SmsInfo("UCS-2", 2, 72, 67)


def test_surrogate_pair_is_not_split_across_segments() -> None:
    assert analyse("你" * 66 + "😀" + "你" * 66) == SmsInfo("UCS-2", 3, 134, 67)
    assert analyse("你" * 65 + "😀" + "你" * 67) == SmsInfo("UCS-2", 2, 134, 67)


@given(st.text())
def test_ucs_2_counts_utf_16_code_units(text: str) -> None:
    info = analyse(text)
    if info.encoding == "UCS-2":
        assert info.characters == len(text.encode("utf-16-le", "surrogatepass")) // 2
    else:
        assert info.characters == len(text) + sum(text.count(ch) for ch in GSM_EXTENSION)


@given(st.text(alphabet=st.sampled_from("a€😀你 ")) | st.text(alphabet="ab{}", max_size=700))
def test_segments_are_consistent_with_characters(text: str) -> None:
    info = analyse(text)
    single, concatenated = (160, 153) if info.encoding == "GSM-7" else (70, 67)
    assert info.segments >= 1
    if info.characters <= single:
        assert (info.segments, info.per_segment) == (1, single)
    else:
        assert info.per_segment == concatenated
        # Every segment is full but for at most the one unit a pair could not take.
        assert math.ceil(info.characters / info.per_segment) <= info.segments
        assert info.segments <= math.ceil(info.characters / (info.per_segment - 1))
