"""Message texts: Liquid templates (python-liquid), rendered in a sandbox.

The environment has no loader, so ``{% include %}``/``{% render %}`` cannot read files, and
output and loop sizes are bounded. Voice renders the code as ``1, 2, 3, 4, 5, 6`` so a speech
engine reads digit by digit, and ``{{ pause }}`` gives it a breath, as in Auth0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from liquid.exceptions import LiquidError
from liquid.token import TOKEN_EOF

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

_ENV = sandboxed_environment(plain_text=True)


class TemplateError(ValueError):
    pass


_STRICT_ENV = sandboxed_environment(strict=True, plain_text=True)


@dataclass(frozen=True, slots=True)
class MessageContext:
    code: str
    channel: Channel
    friendly_name: str
    locale: str = "en"
    application_name: str = ""
    client_id: str = ""
    client_metadata: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    connection: str = ""
    tenant_name: str = ""


def spoken_code(code: str) -> str:
    # "4, 8, 2, 9, 1, 3" is read digit by digit with a short breath between digits by every
    # speech engine tried; Auth0's "4.8.2.9.1.3" is read as decimals by some.
    return ", ".join(code)


def variables(ctx: MessageContext) -> dict[str, Any]:
    """The Liquid variables of Auth0's Guardian and Branding phone templates."""
    code = spoken_code(ctx.code) if ctx.channel == "voice" else ctx.code
    client = {
        "name": ctx.application_name,
        "clientID": ctx.client_id,
        "client_id": ctx.client_id,
        "metadata": ctx.client_metadata or {},
    }
    return {
        "code": code,
        "message_type": ctx.channel,
        "locale": ctx.locale,
        "friendly_name": ctx.friendly_name,
        "tenant": {
            "friendly_name": ctx.friendly_name,
            "friendlyName": ctx.friendly_name,
            "name": ctx.tenant_name,
        },
        "requestInfo": {"lang": ctx.locale},
        "application": client,
        "client": client,
        "connection": {"name": ctx.connection},
        "user": ctx.user or {},
        "pause": VOICE_PAUSE if ctx.channel == "voice" else "",
        "support_email": "",
        "support_url": "",
        "logo_url": "",
        "home_url": "",
        "region": "",
        "custom_domain": {"domain": "", "domain_metadata": {}},
        "organization": {},
    }


def _finish(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateError(
            f"the rendered message is {len(text)} characters long; at most "
            f"{MAX_OUTPUT_CHARS} are allowed"
        )
    return text


def render(template: str, ctx: MessageContext) -> str:
    """Render for sending: an unknown variable renders empty, as in Auth0."""
    try:
        return _finish(_ENV.from_string(template).render(**variables(ctx)))
    except LiquidError as exc:
        raise TemplateError(str(exc)) from None


def _where(exc: LiquidError, source: str) -> str:
    token = exc.token
    if token is not None and token.kind == TOKEN_EOF:
        # An unclosed block is found at the end of input, a token without a position.
        return f" ({_line_column(source, len(source))}: the end of the template)"
    if token is None or token.start_index < 0 or not token.source:
        return ""
    return f" ({_line_column(token.source, token.start_index)})"


def _line_column(source: str, index: int) -> str:
    before = source[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return f"line {line}, column {column}"


SAMPLE_USER = {
    "user_id": "auth0|0123456789abcdef01234567",
    "name": "Jane Doe",
    "nickname": "jane",
    "given_name": "Jane",
    "family_name": "Doe",
    "email": "jane@example.com",
    "email_verified": True,
    "phone_number": "+15555550100",
    "phone_verified": True,
    "picture": "",
    "login_count": 3,
    "user_metadata": {},
    "app_metadata": {},
    "multifactor": ["guardian"],
    "source_ip": "203.0.113.7",
    "city": "Lisbon",
    "country": "Portugal",
}


def check(template: str, ctx: MessageContext, *, needs_code: bool) -> str:
    """Parse and test-render a template being saved, strictly: a syntax error or an unknown
    variable is an error that says where; returns the rendered sample."""
    try:
        text = _finish(_STRICT_ENV.from_string(template).render(**variables(ctx)))
    except LiquidError as exc:
        raise TemplateError(f"{exc.message}{_where(exc, template)}") from None
    if needs_code:
        shown = spoken_code(ctx.code) if ctx.channel == "voice" else ctx.code
        if shown not in text:
            raise TemplateError("the message must contain the code: use {{ code }}")
    return text


def validate(template: str) -> None:
    """Parse and test-render a template as it would be saved; raises TemplateError."""
    check(
        template,
        MessageContext(code="123456", channel="sms", friendly_name="Example", user=SAMPLE_USER),
        needs_code=False,
    )
