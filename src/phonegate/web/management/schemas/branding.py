"""Branding phone providers and templates, the Unified Phone Experience (auth0-api.md
§3.6-3.7; ``web/management/branding.py``, ``domain/phone_providers.py``,
``domain/phone_templates.py``), and the answers of the "Send Test Message" (``/try``) routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from phonegate.domain.phone_providers import DELIVERY_METHODS
from phonegate.domain.phone_templates import MAX_TEMPLATE_CHARS, MAX_TRANSLATIONS
from phonegate.domain.sms_encoding import Encoding
from phonegate.domain.texts import MessageType
from phonegate.web.management.schemas.common import (
    BOOLEAN,
    Strict,
    omitted,
    one_of,
    query,
)
from phonegate.web.management.schemas.errors import ManagementError

DeliveryMethod = Annotated[str, one_of(DELIVERY_METHODS)]
TemplateText = Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_CHARS)]

DISABLED_QUERY = [query("disabled", BOOLEAN, "Only the disabled (true) or enabled (false) ones.")]


# -- providers -----------------------------------------------------------------------------


class _TwilioConfiguration(BaseModel):
    """Twilio's configuration fields in Auth0's names (``mssid``: a Messaging Service;
    ``verify_*``: Twilio Verify). Other providers take their module's configuration fields,
    so further fields are allowed."""

    model_config = ConfigDict(extra="allow")

    sid: str = omitted()
    default_from: str = omitted()
    mssid: str = omitted()
    base_url: str = omitted()
    verify_service_sid: str = omitted()
    verify_base_url: str = omitted()
    verify_mode: Literal["custom_code", "hosted"] = omitted()


class ProviderConfiguration(_TwilioConfiguration):
    delivery_methods: list[DeliveryMethod]


class ProviderConfigurationChange(_TwilioConfiguration):
    """Merged field by field into the stored configuration (secrets go in ``credentials``)."""

    delivery_methods: set[DeliveryMethod] = omitted(min_length=1)


class PhoneProvider(Strict):
    id: str = Field(examples=["pro_qvSf3x5ErYUUCk86x56EmB"])
    tenant: str
    name: str
    channel: Literal["phone"]
    disabled: bool
    configuration: ProviderConfiguration
    created_at: datetime
    updated_at: datetime
    credentials_set: list[str] = Field(
        description="phonegate: the names of the stored credentials, never their values."
    )


class BrandingProvider(PhoneProvider):
    warnings: list[str] = omitted(description="When disabled: what stops working.")


class BrandingProviders(Strict):
    providers: list[BrandingProvider]


class ProviderChange(BaseModel):
    """Changing ``name`` (the vendor) drops the stored configuration and credentials."""

    name: str = omitted(description="twilio, custom, or the name of a provider module.")
    disabled: bool = omitted()
    configuration: ProviderConfigurationChange = omitted()
    credentials: dict[str, Annotated[str, Field(min_length=1)]] = omitted(
        description="Write-only; merged key by key, so a PATCH need not resend a secret."
    )


class ProviderCreate(ProviderChange):
    name: str = Field(description="twilio, custom, or the name of a provider module.")


# -- test sends ----------------------------------------------------------------------------


class TrySend(BaseModel):
    to: str = Field(description="A phone number; Auth0's examples leave out the +.")
    delivery_method: DeliveryMethod = omitted()


class SentTry(Strict):
    name: str
    ok: Literal[True]
    status: str
    message_id: str | None


class FailedTry(Strict):
    name: str
    ok: Literal[False]
    error: str
    kind: Literal["retryable", "rejected", "misconfigured"]
    code: str | None


class TryAccepted(Strict):
    code: Literal[202]
    message: str = Field(examples=["Test notification successfully sent for processing"])
    provider: SentTry = Field(description="phonegate: the provider's own answer.")


class TryFailure(Strict):
    """The Management error shape plus the provider's own answer."""

    statusCode: Literal[400, 503]
    error: str
    message: str
    errorCode: Literal["provider_retryable", "provider_rejected", "provider_misconfigured"]
    provider: FailedTry


# A refused test send answers in the error shape plus the provider's answer.
TRY_FAILURES = {400: ManagementError | TryFailure, 503: TryFailure}


# -- templates -----------------------------------------------------------------------------


class SmsAnalysis(Strict):
    """How the sample rendering travels as an SMS."""

    encoding: Encoding
    segments: int
    characters: int


class VoiceAnalysis(Strict):
    characters: int


class TemplateBody(Strict):
    text: str
    voice: str


class TemplateContent(Strict):
    syntax: Literal["liquid"]
    from_: str = Field(alias="from", description='"" uses the provider\'s default_from.')
    body: TemplateBody


class Translation(Strict):
    text: str = omitted()
    voice: str = omitted()


class PhoneTemplate(Strict):
    """Built-in defaults have no ``id`` and no times until customised."""

    id: str = omitted(examples=["tem_fCzKC1FgZ236yFJZx7r9Aj"])
    tenant: str
    channel: Literal["phone"]
    type: MessageType
    disabled: bool
    customizable: bool
    content: TemplateContent
    translations: dict[str, Translation] = Field(
        description="phonegate: per-locale texts that win over content.body for that language."
    )
    created_at: datetime = omitted()
    updated_at: datetime = omitted()


class SavedTemplate(PhoneTemplate):
    analysis: dict[str, SmsAnalysis | VoiceAnalysis] = Field(
        description='Each text set, by where it is ("body.text", "translations.fr.voice").'
    )


class PhoneTemplates(Strict):
    templates: list[PhoneTemplate]


class TextsChange(Strict):
    text: TemplateText = omitted()
    voice: TemplateText = omitted()


class ContentChange(Strict):
    syntax: Literal["liquid"] = omitted()
    from_: str = omitted(alias="from", max_length=32)
    body: TextsChange = omitted()


class TemplateChange(Strict):
    type: MessageType = omitted(description="Cannot change.")
    disabled: bool = omitted()
    content: ContentChange = omitted()
    translations: dict[str, TextsChange] = omitted(
        max_length=MAX_TRANSLATIONS, description="By language tag (fr, pt-BR)."
    )
    customizable: bool = omitted(description="Accepted for Auth0 compatibility; no effect.")


class TemplateCreate(TemplateChange):
    type: MessageType


class TemplateTryAccepted(TryAccepted):
    locale: str
    source: str = Field(description="Where the text came from.")
    analysis: SmsAnalysis = omitted(description="For SMS.")
