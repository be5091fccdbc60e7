"""Message texts: Liquid templates (python-liquid), rendered in a sandbox.

The environment has no loader, so ``{% include %}``/``{% render %}`` cannot read files, and
output and loop sizes are bounded. Voice renders the code as ``1, 2, 3, 4, 5, 6`` so a speech
engine reads digit by digit, and ``{{ pause }}`` gives it a breath, as in Auth0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from liquid.exceptions import LiquidError

from phonegate.domain.models import Channel
from phonegate.liquid_sandbox import MAX_OUTPUT_CHARS, sandboxed_environment

MessageKind = Literal["enrollment", "verification"]

# Auth0's defaults (Guardian phone templates on a fresh tenant).
DEFAULT_TEMPLATES: dict[MessageKind, str] = {
    "enrollment": (
        "{{code}} is your verification code for {{tenant.friendly_name}}. "
        "Please enter this code to verify your enrollment."
    ),
    "verification": "{{code}} is your verification code for {{tenant.friendly_name}}",
}
VOICE_PAUSE = "... "

_ENV = sandboxed_environment()


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MessageContext:
    code: str
    channel: Channel
    friendly_name: str
    locale: str = "en"
    application_name: str = ""
    user: dict[str, Any] | None = None


def spoken_code(code: str) -> str:
    # "4, 8, 2, 9, 1, 3" is read digit by digit with a short breath between digits by every
    # speech engine tried; Auth0's "4.8.2.9.1.3" is read as decimals by some.
    return ", ".join(code)


def render(template: str, ctx: MessageContext) -> str:
    code = spoken_code(ctx.code) if ctx.channel == "voice" else ctx.code
    variables: dict[str, Any] = {
        "code": code,
        "message_type": ctx.channel,
        "locale": ctx.locale,
        "friendly_name": ctx.friendly_name,
        "tenant": {"friendly_name": ctx.friendly_name, "friendlyName": ctx.friendly_name},
        "application": {"name": ctx.application_name},
        "client": {"name": ctx.application_name},
        "user": ctx.user or {},
        "pause": VOICE_PAUSE if ctx.channel == "voice" else "",
    }
    try:
        text = _ENV.from_string(template).render(**variables)
    except LiquidError as exc:
        raise TemplateError(str(exc)) from None
    text = " ".join(text.split())
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"rendered message is longer than {MAX_OUTPUT_CHARS} characters")
    return text


def validate(template: str) -> None:
    """Parse and test-render a template as it would be saved; raises TemplateError."""
    render(template, MessageContext(code="123456", channel="sms", friendly_name="Example"))
