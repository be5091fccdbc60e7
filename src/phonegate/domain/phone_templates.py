"""Phone message templates: the Branding templates (per type, with phonegate's per-locale
translations), the Guardian factor's two legacy templates, and the choice of the text that
goes out.

Which text a message uses, first match wins:

1. the tenant's Branding template of that type, unless disabled: its translation for the
   negotiated locale, then its own ``content.body`` when customised;
2. the Guardian template (``enrollment_message`` / ``verification_message``) when set;
3. phonegate's built-in text in the negotiated locale, then in the tenant's default locale.

The locale is negotiated from the request (``ui_locales``, ``x-request-language``,
``Accept-Language``), then the user's stored locale, then the tenant default, against the
built-in languages and the tenant's own translations — so a missing translation falls back to
the tenant's default text, never to an empty one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from phonegate import ids
from phonegate.domain import messages, texts
from phonegate.domain.messages import MessageContext, TemplateError
from phonegate.domain.models import Channel, PhoneTemplate, Tenant
from phonegate.domain.sms_encoding import analyse
from phonegate.errors import InvalidRequest

TemplateType = Literal[
    "otp_enroll", "otp_verify", "change_password", "blocked_account", "password_breach"
]
TEMPLATE_TYPES: tuple[str, ...] = texts.MESSAGE_TYPES
OTP_TYPES = frozenset({"otp_enroll", "otp_verify"})
BODY_FIELDS: dict[Channel, str] = {"sms": "text", "voice": "voice"}
MAX_TEMPLATE_CHARS = 10_000
# The code in sample renderings and test messages (/try): a test message carries the same
# code its text shows, and a leaked test message grants nothing.
SAMPLE_CODE = "924681"
MAX_TRANSLATIONS = 50
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")


def builtin(message_type: str, channel: Channel, locale: str) -> str:
    found = texts.builtin_template(message_type, channel, locale) or texts.builtin_template(
        message_type, channel, "en"
    )
    assert found is not None, f"no built-in {message_type}/{channel} text"
    return found


def default_content(message_type: str) -> dict[str, Any]:
    return {
        "syntax": "liquid",
        "from": "",
        "body": {
            "text": builtin(message_type, "sms", "en"),
            "voice": builtin(message_type, "voice", "en"),
        },
    }


@dataclass(frozen=True, slots=True)
class Composed:
    text: str
    locale: str
    sender: str | None
    source: str  # where the text came from, for the test endpoints and the docs


def _translation(template: PhoneTemplate, locale: str, field: str) -> str | None:
    for tag in (locale, locale.split("-")[0]):
        found = template.translations.get(tag, {}).get(field)
        if found:
            return found
    return None


def compose(
    message_type: str,
    channel: Channel,
    ctx: MessageContext,
    *,
    tenant: Tenant,
    languages: Sequence[str | None],
    template: PhoneTemplate | None,
) -> Composed:
    """Choose and render the text of one message (see the module docstring for the order)."""
    field = BODY_FIELDS[channel]
    active = template if template is not None and not template.disabled else None
    available = set(texts.SUPPORTED_LOCALES) | set(active.translations if active else {})
    locale = texts.negotiate(languages, available, tenant.settings.default_locale)
    guardian = {
        "otp_enroll": tenant.settings.enrollment_message,
        "otp_verify": tenant.settings.verification_message,
    }.get(message_type)
    chosen: tuple[str, str] | None = None
    if active is not None:
        translated = _translation(active, locale, field)
        custom = active.content.get("body", {}).get(field)
        if translated:
            chosen = (translated, f"branding template ({locale})")
        elif custom:
            chosen = (custom, "branding template")
    if chosen is None and guardian:
        chosen = (guardian, "guardian template")
    if chosen is None:
        shipped = texts.builtin_template(message_type, channel, locale)
        if shipped is None:
            locale = tenant.settings.default_locale
        chosen = (builtin(message_type, channel, locale), f"built-in ({locale})")
    sender = (active.content.get("from") or None) if active is not None else None
    return Composed(
        text=messages.render(chosen[0], replace(ctx, locale=locale)),
        locale=locale,
        sender=sender,
        source=chosen[1],
    )


# -- saving templates ----------------------------------------------------------------------


def sample_context(tenant: Tenant, channel: Channel, locale: str = "en") -> MessageContext:
    return MessageContext(
        code=SAMPLE_CODE,
        channel=channel,
        friendly_name=tenant.settings.friendly_name,
        locale=locale,
        application_name="My App",
        client_id="sample-client-id",
        user=messages.SAMPLE_USER,
        connection="Username-Password-Authentication",
        tenant_name=tenant.name,
    )


def check_text(
    tenant: Tenant, message_type: str, channel: Channel, source: object, where: str
) -> dict[str, Any]:
    """Validate one template text as it is saved; returns its analysis (for SMS: the
    encoding and segment count of the sample rendering)."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequest(
            f"Payload validation error: {where} must be a non-empty string.",
            error_code="invalid_body",
        )
    if len(source) > MAX_TEMPLATE_CHARS:
        raise InvalidRequest(
            f"Payload validation error: {where} is longer than {MAX_TEMPLATE_CHARS} characters.",
            error_code="invalid_body",
        )
    try:
        rendered = messages.check(
            source, sample_context(tenant, channel), needs_code=message_type in OTP_TYPES
        )
    except TemplateError as exc:
        raise InvalidRequest(
            f"Invalid template in {where}: {exc}", error_code="invalid_template"
        ) from None
    return sms_analysis(rendered) if channel == "sms" else {"characters": len(rendered)}


def sms_analysis(text: str) -> dict[str, Any]:
    info = analyse(text)
    return {"encoding": info.encoding, "segments": info.segments, "characters": info.characters}


def _body(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"Payload validation error: {where} must be an object.", error_code="invalid_body"
        )
    unknown = sorted(set(value) - {"text", "voice"})
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown field(s) in {where}: {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    return {k: v for k, v in value.items() if v is not None}


def apply_body(
    tenant: Tenant, template: PhoneTemplate, body: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Apply a create or PATCH body; returns the analysis of every text it set."""
    unknown = sorted(set(body) - {"type", "disabled", "content", "translations", "customizable"})
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    disabled = body.get("disabled", template.disabled)
    if not isinstance(disabled, bool):
        raise InvalidRequest(
            "Payload validation error: 'disabled' must be a boolean.", error_code="invalid_body"
        )
    template.disabled = disabled
    analysis: dict[str, Any] = {}
    content = body.get("content")
    if content is not None:
        if not isinstance(content, dict):
            raise InvalidRequest(
                "Payload validation error: 'content' must be an object.", error_code="invalid_body"
            )
        extra = sorted(set(content) - {"syntax", "from", "body"})
        if extra:
            raise InvalidRequest(
                f"Payload validation error: unknown field(s) in content: {', '.join(extra)}.",
                error_code="invalid_body",
            )
        if content.get("syntax", "liquid") != "liquid":
            raise InvalidRequest('content.syntax must be "liquid".', error_code="invalid_body")
        sender = content.get("from", template.content.get("from", ""))
        if not isinstance(sender, str) or len(sender) > 32:
            raise InvalidRequest(
                "content.from must be a phone number or sender id.", error_code="invalid_body"
            )
        merged = {**template.content.get("body", {}), **_body(content.get("body"), "content.body")}
        for channel, field in BODY_FIELDS.items():
            if field in merged and field in (content.get("body") or {}):
                analysis[f"body.{field}"] = check_text(
                    tenant, template.type, channel, merged[field], f"content.body.{field}"
                )
        template.content = {"syntax": "liquid", "from": sender, "body": merged}
    translations = body.get("translations")
    if translations is not None:
        if not isinstance(translations, dict) or len(translations) > MAX_TRANSLATIONS:
            raise InvalidRequest(
                f"Payload validation error: 'translations' must be an object of at most {MAX_TRANSLATIONS} locales.",
                error_code="invalid_body",
            )
        cleaned: dict[str, dict[str, str]] = {}
        for locale, bodies in translations.items():
            if not isinstance(locale, str) or not _LANGUAGE_TAG.fullmatch(locale):
                raise InvalidRequest(
                    f"'{locale}' is not a language tag.", error_code="invalid_body"
                )
            values = _body(bodies, f"translations.{locale}")
            for channel, field in BODY_FIELDS.items():
                if field in values:
                    analysis[f"translations.{locale}.{field}"] = check_text(
                        tenant,
                        template.type,
                        channel,
                        values[field],
                        f"translations.{locale}.{field}",
                    )
            if values:
                cleaned[locale] = values
        template.translations = cleaned
    template.updated_at = now
    return analysis


def new_template(tenant_id: str, message_type: object, now: datetime) -> PhoneTemplate:
    if message_type not in TEMPLATE_TYPES:
        raise InvalidRequest(
            f"Payload validation error: 'type' must be one of {', '.join(TEMPLATE_TYPES)}.",
            error_code="invalid_body",
        )
    return PhoneTemplate(
        id=ids.prefixed("tem"),
        tenant_id=tenant_id,
        type=str(message_type),
        disabled=False,
        content={"syntax": "liquid", "from": "", "body": {}},
        translations={},
        created_at=now,
        updated_at=now,
    )


def reset(template: PhoneTemplate, now: datetime) -> None:
    template.content = {"syntax": "liquid", "from": "", "body": {}}
    template.translations = {}
    template.updated_at = now


def effective_content(template: PhoneTemplate | None, message_type: str) -> dict[str, Any]:
    """What Auth0 shows as a template's content: the customised fields over the defaults."""
    content = default_content(message_type)
    if template is not None:
        content["from"] = template.content.get("from", "")
        content["body"] = {**content["body"], **template.content.get("body", {})}
    return content


def check_guardian(tenant: Tenant, enrollment: object, verification: object) -> dict[str, Any]:
    """Guardian's PUT needs both templates; each is checked for SMS and for voice (Auth0
    uses the same template for both, with ``message_type`` to tell them apart)."""
    analysis: dict[str, Any] = {}
    for name, value, message_type in (
        ("enrollment_message", enrollment, "otp_enroll"),
        ("verification_message", verification, "otp_verify"),
    ):
        if value is None:
            raise InvalidRequest(
                f"Payload validation error: Missing required property: {name}.",
                error_code="invalid_body",
            )
        analysis[name] = check_text(tenant, message_type, "sms", value, name)
        check_text(tenant, message_type, "voice", value, name)
    return analysis


def test_text(tenant: Tenant, channel: Channel) -> str:
    """The text of a provider's "Send Test Message": no code, nothing to misuse."""
    name = tenant.settings.friendly_name
    if channel == "voice":
        return f"Hello. This is a test call from {name}. Your phone provider is set up."
    return f"This is a test message from {name}: your phone provider is set up."
