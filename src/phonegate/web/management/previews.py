"""Management API, phonegate's addition: ``POST /api/v2/branding/phone/templates/preview``
renders a message text with sample values, as a save would check it, and says how it would
travel (for SMS: the encoding and the segments billed). Nothing is stored or sent.

With a ``body``, that text is rendered; without one, the text the tenant sends now for that
type, channel and language (its Branding template, its Guardian template or the built-in
text; ``source`` says which, as the templates' ``/try`` does).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from phonegate.domain import messages, phone_templates, texts
from phonegate.domain.models import CHANNELS, Channel
from phonegate.errors import InvalidRequest
from phonegate.web.management.auth import management_scope
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas.branding import SmsAnalysis, VoiceAnalysis
from phonegate.web.management.schemas.common import Strict, omitted, one_of
from phonegate.web.requests import read_object

router = APIRouter(prefix="/api/v2/branding/phone")

FIELDS = frozenset({"type", "channel", "locale", "body"})
MAX_LOCALE_CHARS = 35


class PreviewRequest(BaseModel):
    type: Annotated[str, one_of(phone_templates.TEMPLATE_TYPES)]
    channel: Literal["sms", "voice"] = omitted(description="Default sms.")
    locale: str = omitted(description="A language tag; default the tenant's language.")
    body: str = omitted(description="The Liquid text; default the text the tenant sends now.")


class Preview(Strict):
    text: str
    channel: Literal["sms", "voice"]
    locale: str
    source: str = Field(examples=["body", "built-in (fr)", "branding template (fr)"])
    analysis: SmsAnalysis | VoiceAnalysis


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(f"Payload validation error: {message}", error_code="invalid_body")


def _request(body: dict[str, Any]) -> tuple[str, Channel, str | None]:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown)}.")
    message_type = body.get("type")
    if message_type not in phone_templates.TEMPLATE_TYPES:
        raise _invalid(f"'type' must be one of {', '.join(phone_templates.TEMPLATE_TYPES)}.")
    channel = body.get("channel", "sms")
    if channel not in CHANNELS:
        raise _invalid("'channel' must be sms or voice.")
    locale = body.get("locale")
    if locale is not None and (not isinstance(locale, str) or len(locale) > MAX_LOCALE_CHARS):
        raise _invalid("'locale' must be a language tag.")
    return str(message_type), channel, locale


@router.post(
    "/templates/preview",
    **documented(
        "Preview a phone message text",
        tag="branding",
        scopes=["read:phone_templates"],
        body=PreviewRequest,
        response=Preview,
    ),
)
async def preview(request: Request) -> JSONResponse:
    async with management_scope(request, "read:phone_templates") as (uow, tenant, _):
        body = await read_object(request)
        message_type, channel, wanted = _request(body)
        if "body" in body:
            phone_templates.check_text(tenant, message_type, channel, body["body"], "body")
            default = tenant.settings.default_locale
            locale = texts.negotiate([wanted], texts.SUPPORTED_LOCALES, default)
            sample = phone_templates.sample_context(tenant, channel, locale)
            text, source = messages.render(body["body"], sample), "body"
        else:
            stored = await uow.phone_templates.list(tenant.id)
            composed = phone_templates.compose(
                message_type,
                channel,
                phone_templates.sample_context(tenant, channel),
                tenant=tenant,
                languages=[wanted],
                template=next((t for t in stored if t.type == message_type), None),
            )
            text, locale, source = composed.text, composed.locale, composed.source
    analysis = phone_templates.sms_analysis(text) if channel == "sms" else {"characters": len(text)}
    return JSONResponse(
        {"text": text, "channel": channel, "locale": locale, "source": source, "analysis": analysis}
    )
