"""Built-in message texts (Auth0's defaults and 11 translations) and language negotiation."""

from __future__ import annotations

import re
from collections import Counter
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonegate.domain.messages import MessageContext, render
from phonegate.domain.models import Channel
from phonegate.domain.sms_encoding import analyse
from phonegate.domain.texts import (
    CHANNELS,
    MAX_ACCEPT_LANGUAGE_TAGS,
    MESSAGE_TYPES,
    SUPPORTED_LOCALES,
    builtin_template,
    negotiate,
    parse_accept_language,
)

OTP_TYPES = ("otp_enroll", "otp_verify", "change_password")
NO_CODE_TYPES = ("blocked_account", "password_breach")
ALL_TEXTS = [(t, c, loc) for t in MESSAGE_TYPES for c in CHANNELS for loc in SUPPORTED_LOCALES]
FRIENDLY_NAME = "Acme Bank 12"  # 12 characters, the length the SMS budgets are checked with
CODE = "482913"
SPOKEN_CODE = "4, 8, 2, 9, 1, 3"
PAUSE = "..."  # what messages.render makes of {{ pause }} on a call
USER = {"source_ip": "203.0.113.9", "city": "Lyon", "country": "France"}
LIQUID_MARKUP = re.compile(r"{{.*?}}|{%.*?%}")

# Auth0's default bodies, from a live GET /api/v2/branding/phone/templates (auth0-api.md §3.7).
_VOICE_OTP = (
    "Hello. Your verification code for {{ friendly_name | escape }} is {{ pause }} "
    "{{ code | escape }}. I repeat, your verification code is {{ pause }} {{ code | escape }}"
)
_BLOCKED = (
    "We detected suspicious activity on your account from the ip {{user.source_ip}}"
    "{% if user.city %} from {{user.city}}, {{user.country}}{% elsif user.country %} from "
    "{{user.country}}{% endif %}. Logins from this IP have been blocked on your account. If this "
    "is your IP, please reset your password to unblock your account. Otherwise, disregard this "
    "message."
)
AUTH0_DEFAULTS = {
    ("otp_verify", "sms"): (
        "{{ code | escape }} is your verification code for {{ friendly_name | escape }}"
    ),
    ("otp_verify", "voice"): _VOICE_OTP,
    ("otp_enroll", "sms"): (
        "{{ code | escape }} is your verification code for {{ friendly_name | escape }}. "
        "Please enter this code to verify your enrollment."
    ),
    ("otp_enroll", "voice"): _VOICE_OTP,
    ("change_password", "sms"): (
        "{{ code | escape }} is your password change code for {{ friendly_name | escape }}"
    ),
    ("change_password", "voice"): (
        "Hello. Your password change code for {{ friendly_name | escape }} is {{ pause }} "
        "{{ code | escape }}. I repeat, your password change code is {{ pause }} "
        "{{ code | escape }}"
    ),
    ("blocked_account", "sms"): _BLOCKED,
    ("blocked_account", "voice"): _BLOCKED,
}


def text(message_type: str, channel: str, locale: str) -> str:
    found = builtin_template(message_type, channel, locale)
    assert found is not None, (message_type, channel, locale)
    return found


def rendered(
    message_type: str, channel: Channel, locale: str, user: dict[str, Any] | None = None
) -> str:
    ctx = MessageContext(
        code=CODE, channel=channel, friendly_name=FRIENDLY_NAME, locale=locale, user=user
    )
    return render(text(message_type, channel, locale), ctx)


# --- the files ---------------------------------------------------------------------------------


def test_exactly_the_120_texts_ship() -> None:
    root = files("phonegate") / "templates" / "messages"
    shipped = {(kind.name, entry.name) for kind in root.iterdir() for entry in kind.iterdir()}
    expected = {(t, f"{c}.{loc}.liquid") for t, c, loc in ALL_TEXTS}
    assert len(expected) == 120
    assert shipped == expected


@pytest.mark.parametrize(("message_type", "channel", "locale"), ALL_TEXTS)
def test_each_text_renders_completely(message_type: str, channel: Channel, locale: str) -> None:
    source = text(message_type, channel, locale)
    assert source == source.strip()
    out = rendered(message_type, channel, locale, USER)
    assert out
    assert "{{" not in out and "{%" not in out and "}}" not in out


@pytest.mark.parametrize(("message_type", "channel", "locale"), ALL_TEXTS)
def test_translations_keep_every_variable_and_tag(
    message_type: str, channel: str, locale: str
) -> None:
    def markup(source: str) -> Counter[str]:
        return Counter(" ".join(m.split()) for m in LIQUID_MARKUP.findall(source))

    assert markup(text(message_type, channel, locale)) == markup(text(message_type, channel, "en"))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("message_type", OTP_TYPES)
def test_otp_sms_carries_the_code_and_the_name(message_type: str, locale: str) -> None:
    out = rendered(message_type, "sms", locale)
    assert out.count(CODE) == 1
    assert FRIENDLY_NAME in out


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("message_type", OTP_TYPES)
def test_voice_says_the_code_twice_each_after_a_pause(message_type: str, locale: str) -> None:
    out = rendered(message_type, "voice", locale)
    assert out.count(PAUSE) == 2
    assert out.count(f"{PAUSE} {SPOKEN_CODE}") == 2
    assert FRIENDLY_NAME in out


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("message_type", NO_CODE_TYPES)
def test_security_notices_carry_no_code(message_type: str, channel: str, locale: str) -> None:
    assert "code" not in "".join(LIQUID_MARKUP.findall(text(message_type, channel, locale)))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_blocked_account_names_the_place_it_knows(locale: str) -> None:
    ip = USER["source_ip"]
    full = rendered("blocked_account", "sms", locale, USER)
    assert ip in full and "Lyon" in full and "France" in full

    country_only = rendered("blocked_account", "sms", locale, {"source_ip": ip, "country": "Peru"})
    assert ip in country_only and "Peru" in country_only and "Lyon" not in country_only

    ip_only = rendered("blocked_account", "sms", locale, {"source_ip": ip})
    assert ip in ip_only
    assert len(ip_only) < len(country_only) < len(full)


@pytest.mark.parametrize(("message_type", "channel"), sorted(AUTH0_DEFAULTS))
def test_english_is_auth0s_default(message_type: str, channel: str) -> None:
    assert text(message_type, channel, "en") == AUTH0_DEFAULTS[message_type, channel]


def test_english_password_breach_is_in_auth0s_style() -> None:
    out = rendered("password_breach", "sms", "en")
    assert out.startswith("We detected a security breach")
    assert "reset your password" in out and FRIENDLY_NAME in out


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_verification_sms_fits_one_segment(locale: str) -> None:
    assert analyse(rendered("otp_verify", "sms", locale)).segments == 1


@pytest.mark.parametrize("locale", ["en", "fr", "de", "it", "nl"])
def test_latin_texts_stay_in_gsm_7(locale: str) -> None:
    for message_type in OTP_TYPES:
        assert analyse(rendered(message_type, "sms", locale)).encoding == "GSM-7", message_type


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_other_otp_sms_fit_two_segments(locale: str) -> None:
    for message_type in ("otp_enroll", "change_password"):
        assert analyse(rendered(message_type, "sms", locale)).segments <= 2, message_type


# --- locale matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "shipped"),
    [
        ("pt-BR", "pt"),
        ("zh-Hant-TW", "zh"),
        ("EN_us", "en"),
        ("de", "de"),
        ("JA", "ja"),
        (" fr-CA ", "fr"),
        ("ar_EG", "ar"),
    ],
)
def test_builtin_template_matches_the_language(asked: str, shipped: str) -> None:
    assert builtin_template("otp_verify", "sms", asked) == text("otp_verify", "sms", shipped)


@pytest.mark.parametrize("asked", ["sv", "sv-SE", "", "   ", "english", "e", "-", "../en"])
def test_builtin_template_has_nothing_for_other_languages(asked: str) -> None:
    assert builtin_template("otp_verify", "sms", asked) is None


@pytest.mark.parametrize(
    ("message_type", "channel"),
    [("otp_login", "sms"), ("otp_verify", "email"), ("../otp_verify", "sms"), ("", "")],
)
def test_builtin_template_unknown_type_or_channel(message_type: str, channel: str) -> None:
    assert builtin_template(message_type, channel, "en") is None


# --- Accept-Language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de"]),
        ("en;q=0.2, ja, ko;q=0.9", ["ja", "ko", "en"]),
        ("de;q=0.5, es;q=0.5, it;q=0.5", ["de", "es", "it"]),  # ties keep the header's order
        ("en, fr;q=0, de;q=0.000", ["en"]),  # q=0 is "not acceptable"
        ("*", []),
        ("EN-us;Q=0.5, Fr", ["Fr", "EN-us"]),
        ("  es-419 ;  q=0.8 ,pt-BR  ", ["pt-BR", "es-419"]),
        ("en;q=abc, de;q=1.5, fr;q=0.5.5, it;q=-1, nl;q=0.1234, ja;q=0.5", ["ja"]),
        ("en;level=1, ko", ["ko"]),
        ("???, , ;q=1, 12, en-, -en, toolonglanguage, zh", ["zh"]),
        ("en, fr;q=0.9, EN;q=0.8", ["en", "fr"]),  # repeats dropped, the better weight kept
        ("de;q=1.000, en;q=0.999", ["de", "en"]),
        ("", []),
        (None, []),
    ],
)
def test_parse_accept_language(header: str | None, tags: list[str]) -> None:
    assert parse_accept_language(header) == tags


def test_parse_accept_language_keeps_the_best_twenty() -> None:
    header = ", ".join(f"en-t{i:03d};q=0.{i:03d}" for i in range(1, 101))
    tags = parse_accept_language(header)
    assert len(tags) == MAX_ACCEPT_LANGUAGE_TAGS
    assert tags[0] == "en-t100" and tags[-1] == "en-t081"


@given(st.one_of(st.none(), st.text(), st.text(alphabet="enfrq=0.;,-* \t_9")))
def test_parse_accept_language_never_raises(header: str | None) -> None:
    tags = parse_accept_language(header)
    assert len(tags) <= MAX_ACCEPT_LANGUAGE_TAGS
    assert all(tag and tag != "*" and tag in (header or "") for tag in tags)


# --- negotiation -------------------------------------------------------------------------------


def test_negotiate_takes_the_first_candidate_that_is_served() -> None:
    # ui_locales, x-request-language, Accept-Language, stored locale; tenant default last.
    candidates = ["sv fi", "de-AT", *parse_accept_language("fr, en;q=0.5"), "ja"]
    assert negotiate(candidates, SUPPORTED_LOCALES, "en") == "de"


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (["sv  ko-KR"], "ko"),  # ui_locales: the first served tag of the list
        ([None, "", "  ", "it"], "it"),  # absent sources are skipped
        ([None, "sv", "fi"], "en"),  # nothing served: the default
        ([], "en"),
        (["zh-Hans-CN", "ja"], "zh"),
        (["EN_gb", "fr"], "en"),
    ],
)
def test_negotiate(candidates: list[str | None], expected: str) -> None:
    assert negotiate(candidates, SUPPORTED_LOCALES, "en") == expected


def test_negotiate_prefers_an_exact_match_and_answers_in_the_available_spelling() -> None:
    available = {"pt-BR", "pt", "fr-CA"}
    assert negotiate(["pt_br"], available, "en") == "pt-BR"
    assert negotiate(["pt-PT"], available, "en") == "pt"
    assert negotiate(["fr"], available, "en") == "fr-CA"  # only a regional variant is offered
    assert negotiate(["fr-FR"], available, "en") == "fr-CA"
    assert negotiate(["es"], available, "en") == "en"
