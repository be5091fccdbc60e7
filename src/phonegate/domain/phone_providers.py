"""Configured delivery providers: the tenant phone provider (Branding, Unified Phone
Experience), the Guardian factor's Twilio configuration, and phonegate's fallback providers.

All three are rows of one kind (:class:`PhoneProvider`); what differs is how the API names
their fields. Auth0's shapes are mapped here onto the provider modules' own configuration
vocabulary, which the catalogue validates, so a configuration that could never send is
refused when it is saved, not at the first login. Credentials are sealed with the server
keys and never leave this module in clear except towards a provider.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from phonegate import ids
from phonegate.domain.models import Channel, PhoneProvider, ProviderRole, TenantSettings
from phonegate.domain.ports import ProviderCatalog
from phonegate.errors import InvalidRequest
from phonegate.keys import KeyRing

# Branding's delivery methods and the channels they stand for.
DELIVERY_METHODS: dict[str, Channel] = {"text": "sms", "voice": "voice"}
BRANDING_NAMES = ("twilio", "custom")

# Auth0 field -> provider configuration field, for the two Twilio shapes.
_TWILIO_BRANDING = {
    "sid": "sid",
    "default_from": "from",
    "mssid": "messaging_service_sid",
    "base_url": "base_url",
    "verify_service_sid": "service_sid",
    "verify_base_url": "verify_base_url",
    "verify_mode": "mode",
}
_TWILIO_GUARDIAN = {
    "sid": "sid",
    "from": "from",
    "messaging_service_sid": "messaging_service_sid",
    "base_url": "base_url",
    "verify_service_sid": "service_sid",
    "verify_base_url": "verify_base_url",
    "verify_mode": "mode",
}
TWILIO_SECRETS = frozenset({"auth_token"})


def seal(keys: KeyRing, secrets: Mapping[str, str]) -> str | None:
    return keys.encrypt(json.dumps(dict(secrets))) if secrets else None


class SealedUnreadable(ValueError):
    """Stored secrets sealed under a server key that is no longer configured."""


def open_sealed(keys: KeyRing, sealed: str | None) -> dict[str, str]:
    """The secrets a row keeps sealed; ``SealedUnreadable`` (never an empty dict) when the
    key they were sealed with has been dropped, so nothing runs with blank credentials."""
    if not sealed:
        return {}
    plain = keys.decrypt(sealed)
    if plain is None:
        raise SealedUnreadable("the stored secrets cannot be decrypted with the server keys")
    data = json.loads(plain)
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What the dispatcher builds for a row: a registry kind and its configuration."""

    kind: str
    values: dict[str, Any]
    channels: frozenset[str]

    @property
    def hosted(self) -> bool:
        """The vendor makes and checks the code itself (Twilio Verify's own check)."""
        return self.kind == "twilio_verify" and self.values.get("mode") == "hosted"


def twilio_spec(
    fields: Mapping[str, Any], secrets: Mapping[str, str], mapping: Mapping[str, str]
) -> ProviderSpec:
    """Twilio Programmable Messaging/Voice, or Twilio Verify when a Verify service is set."""
    mapped = {mapping[k]: v for k, v in fields.items() if k in mapping and v not in (None, "")}
    values: dict[str, Any] = {"sid": mapped.get("sid"), **secrets}
    if "service_sid" in mapped:
        values["service_sid"] = mapped["service_sid"]
        if "verify_base_url" in mapped:
            values["base_url"] = mapped["verify_base_url"]
        if "mode" in mapped:
            values["mode"] = mapped["mode"]
        return ProviderSpec("twilio_verify", values, frozenset({"sms", "voice"}))
    for key in ("from", "messaging_service_sid", "base_url"):
        if key in mapped:
            values[key] = mapped[key]
    channels = {"sms"} | ({"voice"} if "from" in mapped else set())
    return ProviderSpec("twilio", values, frozenset(channels))


def delivery_channels(methods: object) -> frozenset[str]:
    if (
        not isinstance(methods, list)
        or not methods
        or not all(isinstance(m, str) and m in DELIVERY_METHODS for m in methods)
        or len(set(methods)) != len(methods)
    ):
        raise InvalidRequest(
            'configuration.delivery_methods must be a non-empty array of "text" and "voice".',
            error_code="invalid_body",
        )
    return frozenset(DELIVERY_METHODS[m] for m in methods)


def spec_for(row: PhoneProvider, secrets: Mapping[str, str]) -> ProviderSpec:
    """The registry kind and configuration a stored row stands for."""
    config = row.configuration
    if row.role == "guardian":
        return twilio_spec(config, secrets, _TWILIO_GUARDIAN)
    methods = config.get("delivery_methods", ["text"])
    offered = frozenset(DELIVERY_METHODS[m] for m in methods if m in DELIVERY_METHODS)
    if row.name == "twilio":
        spec = twilio_spec(config, secrets, _TWILIO_BRANDING)
        return ProviderSpec(spec.kind, spec.values, spec.channels & offered)
    if row.name == "custom":
        return ProviderSpec("action", {"trigger": "custom-phone-provider"}, offered)
    values = {k: v for k, v in config.items() if k != "delivery_methods"}
    return ProviderSpec(row.name, {**values, **secrets}, offered)


def _check_fields(
    section: str, given: Mapping[str, Any], allowed: frozenset[str] | set[str]
) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown {section} field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )


def _object(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"Payload validation error: '{key}' must be an object.", error_code="invalid_body"
        )
    return dict(value)


def _strings(section: str, values: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise InvalidRequest(
                f"Payload validation error: {section}.{key} must be a non-empty string.",
                error_code="invalid_body",
            )
        out[key] = value
    return out


def validate_spec(catalog: ProviderCatalog, spec: ProviderSpec, label: str) -> None:
    if spec.kind == "action":
        return
    try:
        capable = catalog.check(spec.kind, spec.values)
    except ValueError as exc:
        raise InvalidRequest(
            f"Invalid {label} configuration: {exc}", error_code="invalid_body"
        ) from None
    missing = spec.channels - capable
    if "voice" in missing and spec.kind == "twilio":
        raise InvalidRequest(
            "Voice needs a Twilio 'from' number, even when a Messaging Service sends the SMS.",
            error_code="invalid_body",
        )
    if missing:
        raise InvalidRequest(
            f"The {spec.kind} provider cannot send {' or '.join(sorted(missing))} messages.",
            error_code="invalid_body",
        )


def allowed_fields(catalog: ProviderCatalog, name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(configuration fields, credential fields) the API accepts for a provider name."""
    if name == "twilio":
        return frozenset(_TWILIO_BRANDING) | {"delivery_methods"}, TWILIO_SECRETS
    if name == "custom":
        return frozenset({"delivery_methods"}), frozenset()
    fields = catalog.fields(name)
    secrets = catalog.secret_fields(name)
    return (fields - secrets) | {"delivery_methods"}, secrets


def provider_names(catalog: ProviderCatalog) -> list[str]:
    """Names the tenant phone provider may have: Auth0's two, then phonegate's vendors."""
    return [*BRANDING_NAMES, *sorted(catalog.kinds() - {"twilio", "twilio_verify", "action"})]


def fallback_names(catalog: ProviderCatalog) -> list[str]:
    """Names a fallback provider may have: any vendor module (operator code is primary-only)."""
    return ["twilio", *sorted(catalog.kinds() - {"twilio", "action"})]


def apply_body(
    catalog: ProviderCatalog,
    keys: KeyRing,
    row: PhoneProvider,
    body: Mapping[str, Any],
    now: datetime,
    *,
    creating: bool,
) -> PhoneProvider:
    """Apply a create or PATCH body to a row (configuration and credentials are merged
    key by key, so a PATCH need not resend a secret) and validate the result."""
    name = body.get("name", row.name)
    names = fallback_names(catalog) if row.role == "fallback" else provider_names(catalog)
    if not isinstance(name, str) or name not in names:
        raise InvalidRequest(
            f"Payload validation error: 'name' must be one of {', '.join(names)}.",
            error_code="invalid_body",
        )
    if name != row.name and not creating:
        # A new vendor means new credentials: never carry one vendor's secrets to another.
        row.configuration, row.credentials = {}, None
    row.name = name
    disabled = body.get("disabled", row.disabled)
    if not isinstance(disabled, bool):
        raise InvalidRequest(
            "Payload validation error: 'disabled' must be a boolean.", error_code="invalid_body"
        )
    row.disabled = disabled
    config_fields, secret_fields = allowed_fields(catalog, name)
    configuration = _object(body, "configuration")
    credentials = _strings("credentials", _object(body, "credentials"))
    leaked = sorted(set(configuration) & secret_fields)
    if leaked:
        raise InvalidRequest(
            f"{', '.join(leaked)} must be sent in 'credentials', which are never returned.",
            error_code="invalid_body",
        )
    _check_fields("configuration", configuration, config_fields)
    _check_fields("credentials", credentials, secret_fields)
    merged = {**row.configuration, **configuration}
    merged = {k: v for k, v in merged.items() if v is not None}
    merged.setdefault("delivery_methods", ["text"])
    wanted = delivery_channels(merged["delivery_methods"])
    secrets = {**open_or_empty(keys, row.credentials), **credentials}
    row.configuration = merged
    row.credentials = seal(keys, secrets)
    row.updated_at = now
    # spec_for narrows the channels to what the configuration can carry; check every
    # delivery method asked for (voice through Twilio without a from number is refused).
    spec = spec_for(row, secrets)
    validate_spec(catalog, replace(spec, channels=wanted), f"{name} provider")
    if spec.hosted and row.role == "fallback":
        # A fallback sends phonegate's own code, which a hosted verifier cannot carry.
        raise InvalidRequest(
            "Twilio Verify in hosted mode makes its own codes, so it can only be the primary "
            "provider, not a fallback.",
            error_code="invalid_body",
        )
    return row


def new_row(
    tenant_id: str, role: ProviderRole, name: str, now: datetime, position: int = 0
) -> PhoneProvider:
    return PhoneProvider(
        id=ids.prefixed("pro"),
        tenant_id=tenant_id,
        role=role,
        name=name,
        disabled=False,
        configuration={},
        credentials=None,
        position=position,
        created_at=now,
        updated_at=now,
    )


def open_or_empty(keys: KeyRing, sealed: str | None) -> dict[str, str]:
    """For an update that merges new secrets over the stored ones: secrets sealed under a
    dropped key are gone, and the update must supply them again (validation says which)."""
    try:
        return open_sealed(keys, sealed)
    except SealedUnreadable:
        return {}


def credentials_set(keys: KeyRing, row: PhoneProvider) -> list[str]:
    return sorted(open_or_empty(keys, row.credentials))  # unreadable counts as unset


def dependents(settings: TenantSettings) -> list[str]:
    """What stops working when the tenant phone provider goes away or is disabled."""
    found = []
    if settings.factor_sms_enabled:
        types = " and ".join(settings.message_types)
        found.append(f"MFA with the phone factor ({types} codes)")
    found.append("passwordless login with SMS codes (any sms connection)")
    return found
