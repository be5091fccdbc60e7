"""Tenants and their Guardian settings: factors, MFA policy, phone message types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from phonegate import ids
from phonegate.domain import texts
from phonegate.domain.models import Tenant, TenantSettings
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest

# Auth0's factor names, in the order Auth0 lists them. ``sms`` is the phone factor.
FACTOR_NAMES = (
    "sms",
    "push-notification",
    "otp",
    "email",
    "duo",
    "webauthn-roaming",
    "webauthn-platform",
    "recovery-code",
)
SUPPORTED_FACTORS = ("sms", "recovery-code")
POLICIES = ("all-applications",)
MESSAGE_TYPE_SETS = ({"sms"}, {"voice"}, {"sms", "voice"})


def new_tenant(
    name: str, now: datetime, *, domain: str | None = None, default: bool = False
) -> Tenant:
    return Tenant(
        id=ids.prefixed("ten", 16),
        name=name,
        domain=domain,
        is_default=default,
        settings=TenantSettings(friendly_name=name),
        created_at=now,
    )


def factors(settings: TenantSettings) -> list[dict[str, object]]:
    enabled = {
        "sms": settings.factor_sms_enabled,
        "recovery-code": settings.factor_recovery_code_enabled,
    }
    return [
        {"name": name, "enabled": enabled.get(name, False), "trial_expired": False}
        for name in FACTOR_NAMES
    ]


def set_factor(settings: TenantSettings, name: str, enabled: bool) -> None:
    if name not in FACTOR_NAMES:
        raise InvalidRequest(f"Unknown factor {name!r}.", error_code="invalid_uri")
    if name not in SUPPORTED_FACTORS:
        if enabled:
            raise InvalidRequest(
                f"The {name} factor is not supported by this server; only sms and recovery-code are.",
                error_code="feature_not_supported",
            )
        return
    if name == "sms":
        settings.factor_sms_enabled = enabled
    else:
        settings.factor_recovery_code_enabled = enabled


def set_policies(settings: TenantSettings, policies: object) -> list[str]:
    if not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
        raise InvalidRequest("The MFA policy must be an array of strings.")
    if len(policies) > 1 or any(p not in POLICIES for p in policies):
        raise InvalidRequest(
            'The MFA policy must be [] or ["all-applications"]; adaptive ("confidence-score") '
            "MFA is not supported by this server."
        )
    settings.mfa_policies = list(policies)
    return settings.mfa_policies


def mfa_required_for_every_login(settings: TenantSettings) -> bool:
    return "all-applications" in settings.mfa_policies and settings.factor_sms_enabled


async def save(uow: UnitOfWork, tenant: Tenant, now: datetime) -> None:
    await uow.tenants.save_settings(tenant.id, tenant.settings, now)


def update_settings(tenant: Tenant, body: Mapping[str, Any]) -> None:
    """Auth0's tenant settings that phonegate uses: ``friendly_name`` and
    ``enabled_locales`` (the first is the default language of messages)."""
    unknown = sorted(set(body) - {"friendly_name", "enabled_locales"})
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unsupported field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    if "friendly_name" in body:
        name = body["friendly_name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise InvalidRequest(
                "Payload validation error: 'friendly_name' must be 1 to 255 characters.",
                error_code="invalid_body",
            )
        tenant.settings.friendly_name = name.strip()
    if "enabled_locales" in body:
        locales = body["enabled_locales"]
        if (
            not isinstance(locales, list)
            or not locales
            or not all(isinstance(x, str) for x in locales)
            or texts.negotiate([locales[0]], texts.SUPPORTED_LOCALES, "") != locales[0]
        ):
            raise InvalidRequest(
                "Payload validation error: 'enabled_locales' must be a non-empty list whose "
                f"first entry is one of {', '.join(texts.SUPPORTED_LOCALES)}.",
                error_code="invalid_body",
            )
        tenant.settings.default_locale = locales[0]
