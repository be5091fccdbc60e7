"""The tenant settings phonegate uses (``web/management/tenant_settings.py``,
``domain/tenants.py``): the name in messages and the default language."""

from __future__ import annotations

from pydantic import Field

from phonegate.domain.texts import SUPPORTED_LOCALES
from phonegate.web.management.schemas.common import Strict, omitted


class TenantSettings(Strict):
    friendly_name: str = Field(description="Liquid's {{ friendly_name }} in messages.")
    enabled_locales: list[str] = Field(
        min_length=1, max_length=1, description="The default language of messages."
    )


class TenantSettingsChange(Strict):
    friendly_name: str = omitted(min_length=1, max_length=255)
    enabled_locales: list[str] = omitted(
        min_length=1,
        description=f"The first is the default language: one of {', '.join(SUPPORTED_LOCALES)}.",
    )
