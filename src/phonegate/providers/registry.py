"""The one map of providers, and the catalogue the domain consults.

Built-ins (``auth0``, ``sandbox``) deliver into the inbox. Vendor modules are imported on
first use, so an optional dependency (botocore for SNS) costs nothing until a tenant uses
it. Add-on providers arrive through the entry-point group ``phonegate.providers``: each entry
point names a provider class following ``providers/base.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from phonegate.providers.base import Inbox, ProviderClass, channels_of
from phonegate.providers.sandbox import InboxProvider, evaluation_provider, sandbox_provider

# Provider names the Guardian API accepts that need no configuration, with what they carry.
BUILTIN_PROVIDERS: dict[str, frozenset[str]] = {
    "auth0": frozenset({"sms"}),
    "sandbox": frozenset({"sms", "voice"}),
}
# Configurable providers: registry kind -> "module:Class".
PROVIDER_CLASSES: dict[str, str] = {
    "twilio": "phonegate.providers.twilio:TwilioProvider",
    "twilio_verify": "phonegate.providers.twilio_verify:TwilioVerifyProvider",
    "sns": "phonegate.providers.sns:SnsProvider",
    "vonage": "phonegate.providers.vonage:VonageProvider",
    "infobip": "phonegate.providers.infobip:InfobipProvider",
    "telesign": "phonegate.providers.telesign:TelesignProvider",
    "esendex": "phonegate.providers.esendex:EsendexProvider",
    "mitto": "phonegate.providers.mitto:MittoProvider",
    "webhook": "phonegate.providers.webhook:WebhookProvider",
    "action": "phonegate.providers.action:ActionProvider",
}
# Kinds whose providers never read OutgoingMessage.metadata (the client, user and request
# that operator code and webhooks receive): the dispatcher skips loading it for them. An
# add-on provider is not listed, so it always gets the context.
CONTEXT_FREE_KINDS = frozenset(BUILTIN_PROVIDERS) | frozenset(PROVIDER_CLASSES) - {
    "webhook",
    "action",
}
ENTRY_POINT_GROUP = "phonegate.providers"
MAX_CACHED_INSTANCES = 512


def _load(target: str) -> ProviderClass:
    module, _, name = target.partition(":")
    found: ProviderClass = getattr(importlib.import_module(module), name)
    return found


def describe(error: ValidationError) -> str:
    """What is wrong with a configuration, by field, without the values: pydantic's own
    text quotes the input, secrets included."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()))
        message = str(item.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(arg) for arg in getattr(annotation, "__args__", ()))


class ProviderRegistry:
    def __init__(self, inbox: Inbox, *, production: bool, http: httpx.AsyncClient) -> None:
        self._production = production
        self._http = http
        self._builtins: dict[str, InboxProvider] = {
            "auth0": evaluation_provider(inbox),
            "sandbox": sandbox_provider(inbox, production=production),
        }
        self._targets = dict(PROVIDER_CLASSES)
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            self._targets.setdefault(entry.name, entry.value)
        self._classes: dict[str, ProviderClass] = {}
        self._instances: dict[str, Any] = {}

    def builtin(self, name: str) -> InboxProvider | None:
        return self._builtins.get(name)

    def provider_class(self, kind: str) -> ProviderClass:
        if kind not in self._classes:
            if kind not in self._targets:
                raise KeyError(kind)
            self._classes[kind] = _load(self._targets[kind])
        return self._classes[kind]

    def config(self, kind: str, values: Mapping[str, Any]) -> BaseModel:
        return self.provider_class(kind).Config.model_validate(dict(values))

    def build(self, kind: str, values: Mapping[str, Any], *, cache_key: str | None = None) -> Any:
        """A provider instance; with ``cache_key`` (a row id and version) it is reused, so
        per-instance state (an action's cache, parsed templates) survives between sends."""
        key = f"{kind}:{cache_key}" if cache_key is not None else None
        if key is not None and key in self._instances:
            return self._instances[key]
        instance = self.provider_class(kind)(self.config(kind, values), self._http)
        if key is not None:
            if len(self._instances) >= MAX_CACHED_INSTANCES:
                self._instances.clear()  # configurations changed many times: start afresh
            self._instances[key] = instance
        return instance

    # ProviderCatalog port -------------------------------------------------------------

    def channels(self, name: str) -> frozenset[str]:
        return BUILTIN_PROVIDERS.get(name, frozenset())

    def refusal(self, name: str) -> str | None:
        if name not in BUILTIN_PROVIDERS:
            return f"the delivery provider {name!r} is not available on this server"
        if name == "sandbox" and self._production:
            return "the sandbox provider cannot be used when PHONEGATE_ENV=production"
        return None

    def kinds(self) -> frozenset[str]:
        return frozenset(self._targets)

    def fields(self, kind: str) -> frozenset[str]:
        model = self.provider_class(kind).Config
        return frozenset(f.alias or name for name, f in model.model_fields.items())

    def secret_fields(self, kind: str) -> frozenset[str]:
        model = self.provider_class(kind).Config
        return frozenset(
            f.alias or name for name, f in model.model_fields.items() if _is_secret(f.annotation)
        )

    def check(self, kind: str, values: Mapping[str, Any]) -> frozenset[str]:
        """Validate a configuration; the channels a provider so configured can carry."""
        try:
            cls = self.provider_class(kind)
        except (KeyError, ImportError) as exc:
            raise ValueError(f"the {kind} provider is not available ({exc})") from None
        try:
            config = cls.Config.model_validate(dict(values))
        except ValidationError as exc:
            raise ValueError(describe(exc)) from None
        return channels_of(cls(config, self._http))
