"""Message templates: Auth0's defaults, voice spelling, and the Liquid sandbox's limits."""

from __future__ import annotations

import time

import pytest

from phonegate.domain import messages
from phonegate.domain.messages import DEFAULT_TEMPLATES, MessageContext, TemplateError, render


def sms(**overrides: object) -> MessageContext:
    values: dict[str, object] = {"code": "123456", "channel": "sms", "friendly_name": "Acme"}
    values.update(overrides)
    return MessageContext(**values)  # type: ignore[arg-type]


def voice(**overrides: object) -> MessageContext:
    return sms(channel="voice", **overrides)


def test_default_enrollment_template_is_auth0s() -> None:
    assert render(DEFAULT_TEMPLATES["enrollment"], sms()) == (
        "123456 is your verification code for Acme. "
        "Please enter this code to verify your enrollment."
    )


def test_default_verification_template_is_auth0s() -> None:
    assert (
        render(DEFAULT_TEMPLATES["verification"], sms())
        == "123456 is your verification code for Acme"
    )


def test_voice_spells_the_code_digit_by_digit() -> None:
    assert render(DEFAULT_TEMPLATES["verification"], voice()) == (
        "1, 2, 3, 4, 5, 6 is your verification code for Acme"
    )
    assert messages.spoken_code("908172") == "9, 0, 8, 1, 7, 2"


def test_pause_renders_for_voice_only() -> None:
    template = "Your code is {{ pause }}{{ code }}. {{pause}}Again: {{ code }}"
    assert (
        render(template, voice())
        == "Your code is ... 1, 2, 3, 4, 5, 6. ... Again: 1, 2, 3, 4, 5, 6"
    )
    assert render(template, sms()) == "Your code is 123456. Again: 123456"


def test_friendly_name_variables() -> None:
    template = "{{ friendly_name }}|{{ tenant.friendly_name }}|{{ tenant.friendlyName }}"
    assert render(template, sms(friendly_name="Globex")) == "Globex|Globex|Globex"


def test_other_variables() -> None:
    ctx = sms(locale="fr", application_name="My App", user={"email": "a@example.com"})
    template = (
        "{{ message_type }} {{ locale }} {{ application.name }} {{ client.name }} {{ user.email }}"
    )
    assert render(template, ctx) == "sms fr My App My App a@example.com"


def test_escape_filter_leaves_plain_text_alone() -> None:
    # Auth0's default templates say `| escape`; an SMS is not HTML, so "AT&T" must not
    # arrive as "AT&amp;T".
    for template in ("{{ friendly_name | escape }}", "{{ friendly_name | escape_once }}"):
        assert render(template, sms(friendly_name='<b>"AT&T"</b>')) == '<b>"AT&T"</b>'
        assert render(template, voice(friendly_name="AT&T")) == "AT&T"


def test_plain_output_is_not_html_escaped() -> None:
    # SMS and voice are plain text: "AT&T" must arrive as typed.
    assert render("{{ friendly_name }}", sms(friendly_name="AT&T <Co>")) == "AT&T <Co>"


@pytest.mark.parametrize(
    "template",
    [
        "{% include 'secret' %}",
        "{% render 'secret' %}",
        "{% include '/etc/passwd' %}",
        "{% render '../../pyproject.toml' %}",
    ],
)
def test_include_and_render_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, sms())


@pytest.mark.parametrize(
    "template", ["{% if %}", "{{ code ", "{% for x in %}{% endfor %}", "{% endif %}", "{% nope %}"]
)
def test_syntax_errors_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, sms())
    with pytest.raises(TemplateError):
        messages.validate(template)


def test_validate_accepts_a_good_template() -> None:
    messages.validate("{{ code }} is your code for {{ tenant.friendly_name }}")


def assert_refused_quickly(template: str, within: float = 1.0) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        render(template, sms())
    elapsed = time.monotonic() - started
    assert elapsed < within, f"took {elapsed:.2f}s to refuse"


def test_output_bomb_loop_is_refused_quickly() -> None:
    assert_refused_quickly("{% for i in (1..100000) %}xxxxxxxxxx{% endfor %}")


def test_output_bomb_within_the_loop_limit_is_refused_quickly() -> None:
    assert_refused_quickly("{% for i in (1..999) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}")


def test_nested_loop_bomb_is_refused_quickly() -> None:
    assert_refused_quickly(
        "{% for i in (1..1000) %}{% for j in (1..1000) %}{% for k in (1..1000) %}"
        "x{% endfor %}{% endfor %}{% endfor %}"
    )


def test_doubling_string_bomb_is_refused_quickly() -> None:
    assert_refused_quickly(
        "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..60) %}"
        "{% assign s = s | append: s %}{% endfor %}{{ s | size }}"
    )


def test_doubling_capture_bomb_is_refused_quickly() -> None:
    assert_refused_quickly(
        "{% capture s %}xxxxxxxxxxxxxxxx{% endcapture %}{% for i in (1..60) %}"
        "{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s | size }}"
    )


def test_huge_range_through_a_filter_is_refused_quickly() -> None:
    # A range handed to a filter is materialised in full: without a bound this spends
    # seconds of CPU and hundreds of MB per render (and scales with the number typed).
    assert_refused_quickly("{{ (1..5000000) | join: 'x' | size }}")


def test_rendered_text_longer_than_ten_segments_is_refused() -> None:
    limit = messages.MAX_OUTPUT_CHARS
    assert len(render("x" * limit, sms())) == limit
    with pytest.raises(TemplateError, match="characters long; at most 1600"):
        render("x" * (limit + 1), sms())
    with pytest.raises(TemplateError):
        render("{% for i in (1..170) %}xxxxxxxxxx{% endfor %}", sms())


def test_whitespace_is_collapsed() -> None:
    template = "  {{ code }}\n\n  is\tyour   code\r\n{% if true %}\n  for {{ friendly_name }}\n{% endif %}  "
    assert render(template, sms()) == "123456 is your code for Acme"
