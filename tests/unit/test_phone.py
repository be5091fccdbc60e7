"""Phone numbers: E.164 normalisation, refusal of what is not a phone, Auth0-style masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonegate import phone
from phonegate.errors import InvalidPhoneNumber


@pytest.mark.parametrize(
    ("raw", "e164", "region", "country_code"),
    [
        ("+44 20 7183 8750", "+442071838750", "GB", 44),
        ("+1 (415) 555-0123", "+14155550123", "US", 1),
        ("+1 650 253 0000", "+16502530000", "US", 1),
        ("+49 30 901820", "+4930901820", "DE", 49),
        ("+33 1 42 68 53 00", "+33142685300", "FR", 33),
        ("+81 3-3224-9999", "+81332249999", "JP", 81),
        ("+61 2 9374 4000", "+61293744000", "AU", 61),
        ("+91 98765 43210", "+919876543210", "IN", 91),
        ("+14155550123", "+14155550123", "US", 1),
        ("  +44 20 7183 8750\n", "+442071838750", "GB", 44),
    ],
)
def test_valid_numbers_are_normalised_to_e164(
    raw: str, e164: str, region: str, country_code: int
) -> None:
    number = phone.parse(raw)
    assert number == phone.PhoneNumber(e164=e164, region=region, country_code=country_code)


def test_double_zero_international_prefix_is_accepted() -> None:
    assert phone.parse("0044 20 7183 8750").e164 == "+442071838750"
    assert phone.parse("0014155550123").e164 == "+14155550123"


def assert_refused(raw: object, *fragments: str) -> InvalidPhoneNumber:
    with pytest.raises(InvalidPhoneNumber) as info:
        phone.parse(raw)
    err = info.value
    assert err.status == 400
    assert err.error == "invalid_request"
    assert err.error_code == "invalid_phone_number"
    description = err.description
    assert description.endswith("."), description
    for fragment in fragments:
        assert fragment in description.lower(), (raw, description)
    # The description is safe to show and log: it never echoes the number.
    if isinstance(raw, str) and sum(ch.isdigit() for ch in raw) >= 4:
        digits = "".join(ch for ch in raw if ch.isdigit())
        assert digits[-4:] not in description, (raw, description)
    return err


@pytest.mark.parametrize("raw", ["", "   ", None, 14155550123, ["+14155550123"], b"+14155550123"])
def test_empty_or_not_a_string_is_refused(raw: object) -> None:
    assert_refused(raw, "required", "string")


@pytest.mark.parametrize("raw", ["14155550123", "(415) 555-0123", "020 7183 8750"])
def test_national_format_is_refused(raw: str) -> None:
    assert_refused(raw, "international format", "e.164")


@pytest.mark.parametrize("raw", ["+1 555", "+44207183875044", "+4420"])
def test_impossible_lengths_are_refused(raw: str) -> None:
    assert_refused(raw, "wrong length")


@pytest.mark.parametrize("raw", ["+1 200 555 0123", "+44 00 0000 0000", "+33 0 00 00 00 00"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    assert_refused(raw, "not a valid number")


def test_unknown_country_code_is_refused() -> None:
    assert_refused("+999 1234567", "could not be parsed")


def test_bare_plus_is_refused() -> None:
    assert_refused("+", "could not be parsed")


@pytest.mark.parametrize("raw", ["+1" + "4" * 40, "+44 20 7183 8750 " + "0" * 20])
def test_too_long_is_refused(raw: str) -> None:
    assert_refused(raw, "too long")


@pytest.mark.parametrize(
    "raw", ["+1415555ABCD", "+1 415 555 ABCD", "+1415abc0123", "+14155550123x"]
)
def test_letters_are_refused(raw: str) -> None:
    # E.164 is digits only: a letter must not become a digit (vanity keypad mapping) nor be
    # dropped as an extension, or the code goes to a number the user never typed.
    with pytest.raises(InvalidPhoneNumber):
        phone.parse(raw)


def test_mask_keeps_only_the_last_four() -> None:
    assert phone.mask("+44207183875044") == "XXXXXXXXXXX5044"
    assert phone.mask("+14155550123") == "XXXXXXXX0123"
    assert phone.mask("+1234") == "X1234"
    assert phone.mask("1234") == "XXXX"
    assert phone.mask("+12") == "XXX"
    assert phone.mask("") == ""


def test_parsed_number_masks_itself() -> None:
    assert phone.parse("+44 20 7183 8750").masked == "XXXXXXXXX8750"


TEXTS = st.one_of(
    st.text(max_size=50),
    st.text(max_size=40).map(lambda s: "+" + s),
    st.text(max_size=40).map(lambda s: "00" + s),
    st.from_regex(r"\+?[0-9 ()\-.xX#*+]{0,40}", fullmatch=True),
)


@given(TEXTS)
def test_parse_raises_only_invalid_phone_number(raw: str) -> None:
    try:
        number = phone.parse(raw)
    except InvalidPhoneNumber as exc:
        assert exc.description
    else:
        assert number.e164.startswith("+")
        assert number.e164[1:].isdigit()
        assert phone.parse(number.e164) == number  # normalisation is idempotent


def test_the_country_names_extract_is_current() -> None:
    # phonegate reads an extract of phonenumbers' names (importing the data costs ~100 MB);
    # after a phonenumbers upgrade, scripts/country_names.py writes it again.
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "country_names.py"
    spec = importlib.util.spec_from_file_location("country_names", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text(encoding="utf-8") == module.render(module.extract())


def test_the_pages_do_not_load_the_geocoding_data() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from phonegate.phone import countries; countries('fr'); "
        "print('phonenumbers.geodata.locale' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
