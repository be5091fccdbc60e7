"""The Guardian phone factor's configuration: provider, delivery methods, Twilio, settings.

Every change is checked against the others, because the seeds' rules span them: the ``auth0``
evaluation provider cannot carry voice, voice through Twilio needs a ``from`` number even when
a Messaging Service sends the SMS, and Twilio needs ``from`` or a Messaging Service. A change
that would break one of these is a 400 that says what to change first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from phonegate.domain import phone_providers, phone_templates
from phonegate.domain.messages import DEFAULT_TEMPLATES
from phonegate.domain.models import PhoneProvider, Tenant
from phonegate.domain.ports import ProviderCatalog, UnitOfWork
from phonegate.domain.tenants import MESSAGE_TYPE_SETS
from phonegate.errors import InvalidRequest
from phonegate.keys import KeyRing

# Auth0's names for the Guardian provider choice, plus phonegate's development inbox.
GUARDIAN_PROVIDERS = ("auth0", "sandbox", "twilio", "phone-message-hook")
TWILIO_FIELDS = ("sid", "auth_token", "from", "messaging_service_sid")
TWILIO_EXTRA_FIELDS = ("base_url", "verify_service_sid", "verify_base_url", "verify_mode")
OTP_LENGTHS = range(4, 11)
OTP_TTL_SECONDS = range(60, 3601)


async def guardian_twilio(uow: UnitOfWork, tenant_id: str) -> PhoneProvider | None:
    return next(
        (p for p in await uow.phone_providers.list(tenant_id) if p.role == "guardian"), None
    )


async def branding_provider(uow: UnitOfWork, tenant_id: str) -> PhoneProvider | None:
    return next(
        (p for p in await uow.phone_providers.list(tenant_id) if p.role == "branding"), None
    )


def _voice_problem(
    provider: str,
    message_types: list[str],
    twilio: PhoneProvider | None,
    branding: PhoneProvider | None,
) -> str | None:
    if "voice" not in message_types:
        return None
    if branding is not None:
        methods = branding.configuration.get("delivery_methods", [])
        if not branding.disabled and "voice" not in methods:
            return (
                'The tenant phone provider (Branding) does not offer voice: add "voice" to its '
                "configuration.delivery_methods first."
            )
        return None
    if provider == "auth0":
        return (
            "The auth0 evaluation provider cannot send voice messages: select another "
            'provider, or set message_types to ["sms"].'
        )
    if provider == "twilio" and twilio is not None and not twilio.configuration.get("from"):
        return (
            "Voice through Twilio needs a 'from' number, even when a Messaging Service sends "
            "the SMS: set it with PUT /api/v2/guardian/factors/phone/providers/twilio first."
        )
    return None


async def set_message_types(uow: UnitOfWork, tenant: Tenant, message_types: object) -> list[str]:
    if not isinstance(message_types, list) or not all(isinstance(m, str) for m in message_types):
        raise InvalidRequest(
            "message_types must be an array of strings.", error_code="invalid_body"
        )
    chosen = set(message_types)
    if len(chosen) != len(message_types) or chosen not in MESSAGE_TYPE_SETS:
        raise InvalidRequest(
            'message_types must be ["sms"], ["voice"] or ["sms", "voice"].',
            error_code="invalid_body",
        )
    ordered = [m for m in ("sms", "voice") if m in chosen]
    problem = _voice_problem(
        tenant.settings.selected_provider,
        ordered,
        await guardian_twilio(uow, tenant.id),
        await branding_provider(uow, tenant.id),
    )
    if problem:
        raise InvalidRequest(problem, error_code="invalid_body")
    tenant.settings.message_types = ordered
    return ordered


async def select_provider(
    uow: UnitOfWork, catalog: ProviderCatalog, tenant: Tenant, provider: object
) -> str:
    if not isinstance(provider, str) or provider not in GUARDIAN_PROVIDERS:
        raise InvalidRequest(
            f"Payload validation error: 'provider' must be one of {', '.join(GUARDIAN_PROVIDERS)}.",
            error_code="invalid_body",
        )
    if provider in ("auth0", "sandbox"):
        refusal = catalog.refusal(provider)
        if refusal:
            raise InvalidRequest(f"The {provider} provider cannot be selected: {refusal}.")
    problem = _voice_problem(
        provider, tenant.settings.message_types, await guardian_twilio(uow, tenant.id), None
    )
    if problem:
        raise InvalidRequest(problem, error_code="invalid_body")
    tenant.settings.selected_provider = provider
    return provider


def twilio_json(keys: KeyRing, row: PhoneProvider | None) -> dict[str, Any]:
    """Auth0's shape, except that the auth token is never returned: ``auth_token`` is null
    and phonegate's ``auth_token_set`` says whether one is stored."""
    config = row.configuration if row else {}
    body: dict[str, Any] = {k: config.get(k) for k in ("from", "messaging_service_sid", "sid")}
    body["auth_token"] = None
    body["auth_token_set"] = bool(row and phone_providers.credentials_set(keys, row))
    for key in TWILIO_EXTRA_FIELDS:
        if config.get(key):
            body[key] = config[key]
    return body


async def set_twilio(
    uow: UnitOfWork,
    catalog: ProviderCatalog,
    keys: KeyRing,
    tenant: Tenant,
    body: Mapping[str, Any],
    now: datetime,
) -> PhoneProvider:
    """PUT semantics as Auth0's SDK uses them: the fields sent change, the rest stay."""
    unknown = sorted(set(body) - set(TWILIO_FIELDS) - set(TWILIO_EXTRA_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    values = phone_providers._strings("body", body)
    row = await guardian_twilio(uow, tenant.id)
    creating = row is None
    if row is None:
        row = phone_providers.new_row(tenant.id, "guardian", "twilio", now)
    secrets = phone_providers.open_or_empty(keys, row.credentials)
    if "auth_token" in values:
        secrets["auth_token"] = values.pop("auth_token")
    row.configuration = {**row.configuration, **values}
    row.credentials = phone_providers.seal(keys, secrets)
    row.updated_at = now
    config = row.configuration
    if (
        not config.get("from")
        and not config.get("messaging_service_sid")
        and not config.get("verify_service_sid")
    ):
        raise InvalidRequest(
            "Twilio needs either a 'from' number or a 'messaging_service_sid'.",
            error_code="invalid_body",
        )
    if tenant.settings.selected_provider == "twilio":
        problem = _voice_problem("twilio", tenant.settings.message_types, row, None)
        if problem:
            raise InvalidRequest(problem, error_code="invalid_body")
    spec = phone_providers.spec_for(row, secrets)
    if "sid" not in config or "auth_token" not in secrets:
        raise InvalidRequest(
            "Twilio needs both 'sid' (the Account SID) and 'auth_token'.", error_code="invalid_body"
        )
    phone_providers.validate_spec(catalog, spec, "Twilio")
    if creating:
        await uow.phone_providers.add(row)
    else:
        await uow.phone_providers.update(row)
    return row


def phone_settings_json(tenant: Tenant, default_ttl: int) -> dict[str, int]:
    return {
        "otp_length": tenant.settings.otp_length,
        "otp_expiration_time": tenant.settings.otp_ttl_seconds or default_ttl,
    }


def set_phone_settings(tenant: Tenant, body: Mapping[str, Any]) -> None:
    unknown = sorted(set(body) - {"otp_length", "otp_expiration_time"})
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    length, ttl = body.get("otp_length"), body.get("otp_expiration_time")
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, int) or length not in OTP_LENGTHS:
            raise InvalidRequest(
                "Payload validation error: 'otp_length' must be an integer from 4 to 10.",
                error_code="invalid_body",
            )
        tenant.settings.otp_length = length
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl not in OTP_TTL_SECONDS:
            raise InvalidRequest(
                "Payload validation error: 'otp_expiration_time' must be a number of seconds "
                "from 60 to 3600.",
                error_code="invalid_body",
            )
        tenant.settings.otp_ttl_seconds = ttl


def templates_json(tenant: Tenant) -> dict[str, str]:
    """What Auth0 returns: the tenant's templates, or Auth0's defaults when unset."""
    settings = tenant.settings
    return {
        "enrollment_message": settings.enrollment_message or DEFAULT_TEMPLATES["enrollment"],
        "verification_message": settings.verification_message or DEFAULT_TEMPLATES["verification"],
    }


def set_templates(tenant: Tenant, body: Mapping[str, Any]) -> dict[str, Any]:
    """Both templates are required (Auth0); each is checked strictly for SMS and voice, and
    the analysis of its sample SMS (encoding, segments) is returned."""
    unknown = sorted(set(body) - {"enrollment_message", "verification_message"})
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    enrollment, verification = body.get("enrollment_message"), body.get("verification_message")
    analysis = phone_templates.check_guardian(tenant, enrollment, verification)
    # Auth0's defaults, sent back as GET showed them, mean "no custom text": keep serving the
    # built-in text in each user's language instead of English to everyone.
    tenant.settings.enrollment_message = (
        None if enrollment == DEFAULT_TEMPLATES["enrollment"] else str(enrollment)
    )
    tenant.settings.verification_message = (
        None if verification == DEFAULT_TEMPLATES["verification"] else str(verification)
    )
    return analysis
