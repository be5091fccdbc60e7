"""Guardian factors, the phone factor's configuration and MFA policies (auth0-api.md
§3.2-3.4; ``web/management/guardian.py``, ``domain/tenants.py``, ``domain/phone_factor.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from phonegate.domain.models import Channel
from phonegate.domain.phone_factor import GUARDIAN_PROVIDERS, OTP_LENGTHS, OTP_TTL_SECONDS
from phonegate.domain.tenants import FACTOR_NAMES, POLICIES
from phonegate.web.management.schemas.branding import SmsAnalysis
from phonegate.web.management.schemas.common import Strict, omitted, one_of

FactorName = Annotated[str, one_of(FACTOR_NAMES)]
GuardianProvider = Annotated[str, one_of(GUARDIAN_PROVIDERS)]


class Factor(Strict):
    name: FactorName
    enabled: bool
    trial_expired: bool


class FactorChange(BaseModel):
    """Only ``sms`` and ``recovery-code`` can be enabled; other fields are ignored."""

    enabled: bool


class FactorState(Strict):
    enabled: bool


class MessageTypesChange(BaseModel):
    message_types: set[Channel] = Field(min_length=1, max_length=2)


class MessageTypes(Strict):
    message_types: list[Channel]


class MfaPolicies(
    RootModel[Annotated[list[Annotated[str, one_of(POLICIES)]], Field(max_length=1)]]
):
    """``[]`` or ``["all-applications"]``."""


class ProviderChoice(BaseModel):
    provider: GuardianProvider


class SelectedProvider(ProviderChoice):
    model_config = ConfigDict(extra="forbid")


class TwilioChange(Strict):
    """The fields sent change, the rest stay (``auth_token`` is write-only)."""

    sid: str = omitted(min_length=1)
    auth_token: str = omitted(min_length=1)
    from_: str = omitted(min_length=1, alias="from")
    messaging_service_sid: str = omitted(min_length=1)
    base_url: str = omitted(min_length=1)
    verify_service_sid: str = omitted(min_length=1)
    verify_base_url: str = omitted(min_length=1)
    verify_mode: Literal["custom_code", "hosted"] = omitted()


class TwilioSettings(Strict):
    """Auth0's shape; ``auth_token`` is always null, ``auth_token_set`` says if one is stored."""

    from_: str | None = Field(alias="from")
    messaging_service_sid: str | None
    sid: str | None
    auth_token: None
    auth_token_set: bool
    base_url: str = omitted()
    verify_service_sid: str = omitted()
    verify_base_url: str = omitted()
    verify_mode: Literal["custom_code", "hosted"] = omitted()


class GuardianTemplates(Strict):
    """Liquid texts, each used for SMS and for voice; both are required on PUT."""

    enrollment_message: str
    verification_message: str


class GuardianTemplatesAnalysis(Strict):
    enrollment_message: SmsAnalysis
    verification_message: SmsAnalysis


class SavedGuardianTemplates(GuardianTemplates):
    analysis: GuardianTemplatesAnalysis


class PhoneSettingsChange(Strict):
    otp_length: int = omitted(ge=OTP_LENGTHS.start, le=OTP_LENGTHS.stop - 1)
    otp_expiration_time: int = omitted(
        ge=OTP_TTL_SECONDS.start, le=OTP_TTL_SECONDS.stop - 1, description="Seconds."
    )


class PhoneSettings(Strict):
    otp_length: int
    otp_expiration_time: int = Field(description="Seconds.")
